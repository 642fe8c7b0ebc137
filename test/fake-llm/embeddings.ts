/**
 * OpenAI `POST /v1/embeddings` with deterministic pseudo-embeddings.
 *
 * Each vector is the normalised sum of hash-seeded vectors for the whole text and for
 * each of its words: equal texts embed identically, and texts that share words come out
 * closer than unrelated ones, which is enough for retrieval tests to rank sensibly.
 */
import { createHash } from 'node:crypto';
import { estimateTokens } from './script.js';
import type { JsonObject } from './util.js';
import { asArray, asString, isRecord } from './util.js';

export const DEFAULT_DIMENSIONS = 384;

/** Values in [-1, 1) drawn from sha256(seed#block), 8 per hash. */
function seededVector(seed: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (let block = 0; block * 8 < dimensions; block++) {
    const digest = createHash('sha256').update(`${seed}#${block}`).digest();
    for (let i = 0; i < 8 && block * 8 + i < dimensions; i++) {
      vector[block * 8 + i] = (digest.readUInt32LE(i * 4) / 2 ** 32) * 2 - 1;
    }
  }
  return vector;
}

function addInto(target: Float32Array, source: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] ?? 0) + (source[i] ?? 0);
}

function normalise(vector: Float32Array): Float32Array {
  let squares = 0;
  for (const value of vector) squares += value * value;
  const norm = Math.sqrt(squares);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}

export function pseudoEmbedding(text: string, dimensions = DEFAULT_DIMENSIONS): Float32Array {
  const vector = seededVector(`text:${text}`, dimensions);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    addInto(vector, seededVector(`word:${word}`, dimensions));
  }
  return normalise(vector);
}

/** `input` may be a string, strings, a token array or token arrays; tokens are embedded as their joined text. */
function inputTexts(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  const items = asArray(input);
  if (items.every((item) => typeof item === 'number')) return [items.join(' ')];
  return items.map((item) => asString(item) ?? asArray(item).join(' '));
}

function dimensionsOf(body: JsonObject): number {
  const requested = body['dimensions'];
  return typeof requested === 'number' && Number.isInteger(requested) && requested > 0 ? requested : DEFAULT_DIMENSIONS;
}

/**
 * The SDK asks for `encoding_format: 'base64'` unless the caller chose one, and then
 * decodes little-endian float32 bytes itself, so base64 must be honoured.
 */
function encode(vector: Float32Array, format: unknown): number[] | string {
  if (format === 'base64') return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
  return Array.from(vector);
}

export function embeddingsBody(body: JsonObject): JsonObject {
  const texts = inputTexts(body['input']);
  const dimensions = dimensionsOf(body);
  const tokens = texts.reduce((sum, text) => sum + estimateTokens(text), 0);
  return {
    object: 'list',
    data: texts.map((text, index) => ({
      object: 'embedding',
      index,
      embedding: encode(pseudoEmbedding(text, dimensions), body['encoding_format']),
    })),
    model: asString(body['model']) ?? '',
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

export function isEmbeddingsBody(body: unknown): body is JsonObject {
  return isRecord(body) && body['input'] !== undefined;
}
