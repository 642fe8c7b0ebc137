import { existsSync } from 'node:fs';
import path from 'node:path';
import { assertSchemaDimensions, type Embedder } from '../embedder.js';
import { EMBEDDING_DIMENSIONS } from '../model.js';
import { DEFAULT_LOCAL_EMBEDDING_MODEL } from './config.js';

/**
 * A sentence-embedding model run in-process through @huggingface/transformers (ONNX Runtime on the
 * CPU): the feature-extraction pipeline with mean pooling and L2 normalisation, as
 * sentence-transformers models such as all-MiniLM-L6-v2 are meant to be used.
 *
 * Where the model comes from, in order:
 * - `path`: a model directory on disk (config.json, tokenizer.json, tokenizer_config.json,
 *   onnx/model.onnx). Nothing is downloaded.
 * - `cacheDir` (`<data_dir>/models`): a model downloaded earlier.
 * - the Hugging Face hub, only when `allowDownload` is set; the files land in `cacheDir` so the next
 *   start is offline.
 */

export interface LocalEmbedderOptions {
  /** Hugging Face model id; default Xenova/all-MiniLM-L6-v2. */
  model?: string;
  path?: string;
  allowDownload?: boolean;
  cacheDir?: string;
  /** Expected output size, checked against the schema and against what the model produces. */
  dimensions?: number;
  /** Texts per model run. */
  batchSize?: number;
}

export interface LocalEmbedder extends Embedder {
  /** The model id, or the directory it was loaded from. */
  readonly model: string;
}

/** The model could not be loaded: missing offline, unreadable, or not a feature-extraction model. */
export class EmbedderUnavailableError extends Error {
  override name = 'EmbedderUnavailableError';
}

/** What we use of the pipeline's Tensor output and of the pipeline (the library's types are far wider). */
interface PooledTensor {
  dims: number[];
  tolist(): number[][];
}
type Extractor = (texts: string[], options: { pooling: 'mean'; normalize: boolean }) => Promise<PooledTensor>;

export async function createLocalEmbedder(opts: LocalEmbedderOptions = {}): Promise<LocalEmbedder> {
  const dimensions = opts.dimensions ?? EMBEDDING_DIMENSIONS;
  const batchSize = opts.batchSize ?? 32;
  const modelId = opts.model ?? DEFAULT_LOCAL_EMBEDDING_MODEL;
  assertSchemaDimensions(dimensions, `the local embedding model ${opts.path ?? modelId}`);
  if (opts.path && !existsSync(path.join(opts.path, 'config.json'))) {
    throw new EmbedderUnavailableError(
      `no model at ${opts.path} (config.json missing); [memory] path must be a model directory with config.json, tokenizer.json and onnx/model.onnx`,
    );
  }

  // Loaded only when a local embedder is configured: it brings ONNX Runtime's native library along.
  const transformers = await import('@huggingface/transformers');
  const { env } = transformers;
  // The library's settings are process-wide; they only matter while the model loads, below.
  env.allowLocalModels = true;
  env.allowRemoteModels = Boolean(opts.allowDownload) && !opts.path;
  if (opts.cacheDir) env.cacheDir = opts.cacheDir;
  let name = modelId;
  if (opts.path) {
    // A local directory is addressed as <localModelPath>/<name>.
    env.localModelPath = `${path.dirname(path.resolve(opts.path))}${path.sep}`;
    name = path.basename(path.resolve(opts.path));
  }

  let extractor: Extractor;
  try {
    // The pipeline's declared return type is a union over every task; this is the feature-extraction one.
    extractor = (await transformers.pipeline('feature-extraction', name, {
      dtype: 'fp32',
      ...(opts.cacheDir ? { cache_dir: opts.cacheDir } : {}),
      local_files_only: !env.allowRemoteModels,
    })) as unknown as Extractor;
  } catch (err) {
    const where = opts.path ?? `${modelId} (looked in ${opts.cacheDir ?? 'the library cache'})`;
    const fix = opts.path
      ? 'check that [memory] path is a model directory with config.json, tokenizer.json and onnx/model.onnx'
      : opts.allowDownload
        ? 'check the internet connection to huggingface.co, or set [memory] path to a downloaded model directory'
        : `set [memory] allow_download = true once on a machine with internet (the model is kept in ${opts.cacheDir ?? 'the cache'}), or [memory] path to a model directory`;
    throw new EmbedderUnavailableError(`cannot load the local embedding model ${where}: ${(err as Error).message}; ${fix}`, { cause: err });
  }

  // One model run at a time: ONNX Runtime already uses the cores, and parallel runs only add memory.
  let queue: Promise<unknown> = Promise.resolve();
  const run = (texts: string[]): Promise<number[][]> => {
    const next = queue.then(async () => {
      const out = await extractor(texts, { pooling: 'mean', normalize: true });
      const width = out.dims[out.dims.length - 1];
      if (width !== dimensions) assertSchemaDimensions(width ?? 0, `the local embedding model ${opts.path ?? modelId}`);
      return out.tolist();
    });
    queue = next.catch(() => undefined);
    return next;
  };

  return {
    dimensions,
    model: opts.path ?? modelId,
    async embed(texts) {
      const vectors: number[][] = [];
      for (let i = 0; i < texts.length; i += batchSize) vectors.push(...(await run(texts.slice(i, i + batchSize))));
      return vectors;
    },
  };
}
