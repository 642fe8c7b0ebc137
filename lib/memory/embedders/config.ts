import path from 'node:path';
import { z } from 'zod';
import { EMBEDDING_DIMENSIONS } from '../model.js';

/**
 * `[memory]` of spacebot.toml, the embedder part: its schema (plugged into lib/config/schema.ts) and
 * its resolution (called from lib/config/load.ts). See docs/memory.md, "Embeddings".
 *
 * ```toml
 * [memory]
 * embedder = "local"                 # "local" (default) | "openai" | "none"
 * model = "Xenova/all-MiniLM-L6-v2"  # local: a Hugging Face model id; openai: the endpoint's model name
 * path = "./models/minilm"           # local: a model directory on disk (config.json, tokenizer.json, onnx/model.onnx)
 * allow_download = true              # local: fetch the model once into <data_dir>/models (needs the internet)
 * base_url = "http://127.0.0.1:11434/v1"  # openai: any OpenAI-compatible /embeddings endpoint
 * api_key_env = "OPENAI_API_KEY"     # openai: the variable holding the key (none needed for local servers)
 * dimensions = 384                   # must match memories.embedding (vector(384))
 * ```
 */
export const memorySchema = z
  .object({
    embedder: z.enum(['local', 'openai', 'none']).optional(),
    model: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    allow_download: z.boolean().optional(),
    base_url: z.url().optional(),
    api_key_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name, e.g. OPENAI_API_KEY').optional(),
    dimensions: z.number().int().min(1).max(16_000).optional(),
  })
  .strict();

export const DEFAULT_LOCAL_EMBEDDING_MODEL = 'Xenova/all-MiniLM-L6-v2';
export const DEFAULT_OPENAI_EMBEDDING_MODEL = 'text-embedding-3-small';
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

export type EmbedderConfig =
  | { kind: 'none' }
  | {
      kind: 'local';
      /** Hugging Face model id (also the folder name under `cacheDir`). */
      model: string;
      /** A model directory to load instead of the id: offline, nothing is downloaded. */
      path?: string;
      /** Whether the hub may be asked for a model missing from `cacheDir`. */
      allowDownload: boolean;
      /** `<data_dir>/models`: where a downloaded model is kept. */
      cacheDir: string;
      dimensions: number;
    }
  | {
      kind: 'openai';
      model: string;
      baseUrl: string;
      /** Read from `apiKeyEnv` at load; local servers (Ollama) need none. */
      apiKey?: string;
      apiKeyEnv: string;
      dimensions: number;
    };

export interface MemoryConfig {
  embedder: EmbedderConfig;
}

export function resolveMemory(
  memory: z.infer<typeof memorySchema> | undefined,
  ctx: { env: NodeJS.ProcessEnv; cwd: string; dataDir: string; openaiBaseUrl?: string },
): MemoryConfig {
  const kind = memory?.embedder ?? 'local';
  const dimensions = memory?.dimensions ?? EMBEDDING_DIMENSIONS;
  if (kind === 'none') return { embedder: { kind: 'none' } };
  if (kind === 'local') {
    return {
      embedder: {
        kind,
        model: memory?.model ?? DEFAULT_LOCAL_EMBEDDING_MODEL,
        ...(memory?.path ? { path: path.resolve(ctx.cwd, memory.path) } : {}),
        allowDownload: memory?.allow_download ?? false,
        cacheDir: path.join(ctx.dataDir, 'models'),
        dimensions,
      },
    };
  }
  const apiKeyEnv = memory?.api_key_env ?? 'OPENAI_API_KEY';
  return {
    embedder: {
      kind,
      model: memory?.model ?? DEFAULT_OPENAI_EMBEDDING_MODEL,
      baseUrl: memory?.base_url ?? ctx.openaiBaseUrl ?? DEFAULT_OPENAI_BASE_URL,
      ...(ctx.env[apiKeyEnv] ? { apiKey: ctx.env[apiKeyEnv] } : {}),
      apiKeyEnv,
      dimensions,
    },
  };
}
