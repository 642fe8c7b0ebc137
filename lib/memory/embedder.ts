import OpenAI from 'openai';
import { EMBEDDING_DIMENSIONS, EmbeddingDimensionError } from './model.js';

/**
 * Turns texts into vectors. `null` wherever an `Embedder | null` is taken means "no embedder":
 * memories are stored with a NULL embedding and recall uses full text + graph only.
 */
export interface Embedder {
  readonly dimensions: number;
  embed(texts: string[]): Promise<number[][]>;
}

export interface OpenAiEmbedderOptions {
  /** e.g. `https://api.openai.com/v1` or a local server's `/v1`. */
  baseURL: string;
  apiKey: string;
  model: string;
  dimensions?: number;
  timeoutMs?: number;
}

/** Any OpenAI-compatible `POST /embeddings`. No SDK retries: the caller (an activity) owns retrying. */
export function createOpenAiEmbedder(opts: OpenAiEmbedderOptions): Embedder {
  const dimensions = opts.dimensions ?? EMBEDDING_DIMENSIONS;
  assertSchemaDimensions(dimensions, `embedder model ${opts.model}`);
  const client = new OpenAI({ baseURL: opts.baseURL, apiKey: opts.apiKey, maxRetries: 0, timeout: opts.timeoutMs ?? 30_000 });
  return {
    dimensions,
    async embed(texts) {
      if (texts.length === 0) return [];
      const res = await client.embeddings.create({ model: opts.model, input: texts, dimensions, encoding_format: 'float' });
      const out = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      if (out.length !== texts.length) throw new Error(`embeddings endpoint returned ${out.length} vectors for ${texts.length} inputs`);
      return out;
    },
  };
}

export function assertSchemaDimensions(dimensions: number, what: string): void {
  if (dimensions !== EMBEDDING_DIMENSIONS) {
    throw new EmbeddingDimensionError(
      `${what} produces ${dimensions}-dimension embeddings but memories.embedding is vector(${EMBEDDING_DIMENSIONS}); configure ${EMBEDDING_DIMENSIONS} dimensions`,
    );
  }
}

/** Embeds texts and checks every vector against the schema; returns null when there is no embedder. */
export async function embedChecked(embedder: Embedder | null, texts: string[]): Promise<number[][] | null> {
  if (!embedder) return null;
  assertSchemaDimensions(embedder.dimensions, 'the embedder');
  const vectors = await embedder.embed(texts);
  for (const v of vectors) {
    if (v.length !== EMBEDDING_DIMENSIONS) assertSchemaDimensions(v.length, 'the embedder');
    if (!v.every(Number.isFinite)) throw new Error('the embedder returned a non-finite value');
    if (v.every((x) => x === 0)) throw new Error('the embedder returned a zero vector (cosine distance is undefined for it)');
  }
  return vectors;
}

/** pgvector's text form. */
export function vectorLiteral(v: readonly number[]): string {
  return `[${v.join(',')}]`;
}
