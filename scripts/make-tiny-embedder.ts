/**
 * Writes test/fixtures/tiny-embedder/: a BERT-style model directory that @huggingface/transformers
 * loads offline like any sentence-transformers export (config.json, tokenizer.json,
 * tokenizer_config.json, onnx/model.onnx), small enough to commit (about 8 KB in all, the ONNX
 * file about 3 KB).
 *
 *   npx tsx scripts/make-tiny-embedder.ts [outDir]
 *
 * The "model" is two ONNX ops: a Gather of input_ids → rows of an embedding table [vocab × 8], then a
 * Tile (repeats [1, 1, 48]) that repeats each 8-d row 48 times → last_hidden_state [batch × seq ×
 * 384], the size of the schema's vector(384). Tiling scales every dot product and every squared norm
 * by the same 48, so mean pooling and cosine similarities are exactly those of the 8-d table. The
 * table is built so that the pipeline's mean pooling gives meaningful similarities: the words of a
 * topic (pets, food, code, weather, music) share a topic direction (one axis per topic, so topics
 * are orthogonal) plus a little word-specific noise, function words and special tokens are short
 * vectors that barely move the mean. Texts about the same topic are therefore closer than texts
 * about different ones. Everything is derived from a fixed seed: running the script again writes
 * identical bytes.
 *
 * The ONNX protobuf is written with protobufjs from the subset of onnx.proto this graph needs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { seededRandom } from '../lib/seeded-random.js';

/** Output size: the schema's vector(384). */
const DIMS = 384;
/** Width of the stored table; the Tile op repeats it DIMS / TABLE_DIMS times. */
const TABLE_DIMS = 8;
const REPEATS = DIMS / TABLE_DIMS;
const HERE = path.dirname(new URL(import.meta.url).pathname);
const OUT = path.resolve(process.argv[2] ?? path.join(HERE, '../test/fixtures/tiny-embedder'));

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const TOPICS: Readonly<Record<string, readonly string[]>> = {
  pets: ['cat', 'dog', 'kitten', 'puppy', 'pet', 'animal', 'fur', 'bark', 'meow', 'vet'],
  food: ['pizza', 'pasta', 'cheese', 'bread', 'cook', 'dinner', 'eat', 'tomato', 'recipe', 'lunch'],
  code: ['code', 'python', 'bug', 'compile', 'program', 'function', 'test', 'deploy', 'server', 'typescript'],
  weather: ['rain', 'sun', 'cloud', 'storm', 'weather', 'snow', 'wind', 'forecast', 'cold', 'warm'],
  music: ['guitar', 'song', 'piano', 'music', 'sing', 'band', 'concert', 'drum'],
};
const FUNCTION_WORDS = [
  'the', 'a', 'an', 'my', 'i', 'is', 'are', 'and', 'to', 'of', 'likes', 'like', 'loves', 'has', 'have',
  'in', 'on', 'with', 'about', 'was', 'it', 'this', 'we', 'you', 'user', 'today', 'our', 'for', 'new',
];
const SUFFIXES = ['##s', '##ed', '##ing'];

function randomUnit(next: () => number): number[] {
  // Box-Muller normals, then normalised: a uniformly random direction.
  const v = Array.from({ length: TABLE_DIMS }, () => Math.sqrt(-2 * Math.log(next() || 1e-12)) * Math.cos(2 * Math.PI * next()));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const scale = (v: number[], s: number) => v.map((x) => x * s);
const add = (a: number[], b: number[]) => a.map((x, i) => x + (b[i] ?? 0));

function buildVocab(): string[] {
  return [...SPECIAL, ...Object.values(TOPICS).flat(), ...FUNCTION_WORDS, ...SUFFIXES];
}

function buildTable(vocab: string[]): Float32Array {
  const next = seededRandom(0x5bace);
  const topicOf = new Map<string, string>();
  for (const [topic, words] of Object.entries(TOPICS)) for (const w of words) topicOf.set(w, topic);
  // One axis per topic: with 8 dims, random directions would be too close to each other.
  const axis = (i: number) => Array.from({ length: TABLE_DIMS }, (_, j) => (i === j ? 1 : 0));
  const centroids = new Map(Object.keys(TOPICS).map((t, i) => [t, axis(i)] as const));
  const table = new Float32Array(vocab.length * TABLE_DIMS);
  vocab.forEach((token, row) => {
    const topic = topicOf.get(token);
    const noise = randomUnit(next);
    let v: number[];
    if (topic) v = add(centroids.get(topic) ?? noise, scale(noise, 0.35));
    else if ((SPECIAL as readonly string[]).includes(token)) v = scale(noise, 0.02);
    else v = scale(noise, 0.12);
    table.set(v, row * TABLE_DIMS);
  });
  return table;
}

// The subset of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) this graph uses,
// with the official field numbers.
const ONNX_PROTO = `
syntax = "proto3";
package onnx;
message AttributeProto { string name = 1; int64 i = 3; int32 type = 20; }
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9; }
message NodeProto { repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4; repeated AttributeProto attribute = 5; }
message TensorShapeProto { message Dimension { int64 dim_value = 1; string dim_param = 2; } repeated Dimension dim = 1; }
message TypeProto { message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; } Tensor tensor_type = 1; }
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message GraphProto { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto { int64 ir_version = 1; string producer_name = 2; string producer_version = 3; GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
`;

const FLOAT = 1;
const INT64 = 7;
const ATTRIBUTE_INT = 2;

function modelBytes(vocabSize: number, table: Float32Array): Uint8Array {
  const root = protobuf.parse(ONNX_PROTO).root;
  const Model = root.lookupType('onnx.ModelProto');
  const dim = (d: string | number) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  const tensorType = (elemType: number, dims: (string | number)[]) => ({ tensorType: { elemType, shape: { dim: dims.map(dim) } } });
  const tokenInput = (name: string) => ({ name, type: tensorType(INT64, ['batch_size', 'sequence_length']) });
  const message = {
    irVersion: 8,
    producerName: 'spacebot make-tiny-embedder',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny_embedder',
      node: [
        { input: ['embeddings.word_embeddings.weight', 'input_ids'], output: ['token_embeddings'], name: 'lookup', opType: 'Gather', attribute: [{ name: 'axis', i: 0, type: ATTRIBUTE_INT }] },
        { input: ['token_embeddings', 'repeats'], output: ['last_hidden_state'], name: 'widen', opType: 'Tile' },
      ],
      initializer: [
        { name: 'embeddings.word_embeddings.weight', dims: [vocabSize, TABLE_DIMS], dataType: FLOAT, rawData: new Uint8Array(table.buffer, table.byteOffset, table.byteLength) },
        { name: 'repeats', dims: [3], dataType: INT64, rawData: new Uint8Array(BigInt64Array.of(1n, 1n, BigInt(REPEATS)).buffer) },
      ],
      // The tokenizer's usual three inputs, so the pipeline feeds the model as it would a real BERT;
      // only input_ids is used.
      input: [tokenInput('input_ids'), tokenInput('attention_mask'), tokenInput('token_type_ids')],
      output: [{ name: 'last_hidden_state', type: tensorType(FLOAT, ['batch_size', 'sequence_length', DIMS]) }],
    },
  };
  const problem = Model.verify(message);
  if (problem) throw new Error(`invalid ONNX model message: ${problem}`);
  return Model.encode(Model.fromObject(message)).finish();
}

function tokenizerJson(vocab: string[]): unknown {
  const ids = Object.fromEntries(vocab.map((t, i) => [t, i]));
  const special = (content: string) => ({ id: ids[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [ids['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [ids['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
}

function main(): void {
  const vocab = buildVocab();
  const table = buildTable(vocab);
  mkdirSync(path.join(OUT, 'onnx'), { recursive: true });
  const json = (name: string, value: unknown) => writeFileSync(path.join(OUT, name), `${JSON.stringify(value, null, 2)}\n`);
  json('config.json', {
    model_type: 'bert',
    architectures: ['BertModel'],
    hidden_size: DIMS,
    vocab_size: vocab.length,
    max_position_embeddings: 512,
    num_attention_heads: 12,
    num_hidden_layers: 1,
    type_vocab_size: 2,
    pad_token_id: 0,
  });
  json('tokenizer.json', tokenizerJson(vocab));
  json('tokenizer_config.json', {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    model_max_length: 512,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
  });
  const onnx = modelBytes(vocab.length, table);
  writeFileSync(path.join(OUT, 'onnx', 'model.onnx'), onnx);
  process.stdout.write(`wrote ${OUT}: ${vocab.length} tokens × ${TABLE_DIMS} dims tiled to ${DIMS}, onnx/model.onnx ${onnx.length} bytes\n`);
}

main();
