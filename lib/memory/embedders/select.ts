import type { Logger } from '../../logger.js';
import { createOpenAiEmbedder, embedChecked, type Embedder } from '../embedder.js';
import { EMBEDDING_DIMENSIONS } from '../model.js';
import type { EmbedderConfig } from './config.js';
import { createLocalEmbedder } from './local.js';

/**
 * Builds the configured embedder and probes it once (one short text through the whole path: model
 * or endpoint, dimension and value checks). If it does not work, the result is `null` — memories
 * are saved without embeddings and recall uses full text + graph, never zero vectors — and ONE
 * warning names the cause and the fix. Nothing retries later: fix the config and restart.
 */

export interface EmbedderSelection {
  embedder: Embedder | null;
  /** What was configured, for logs and status output: `local Xenova/all-MiniLM-L6-v2`, `openai text-embedding-3-small`, `none`. */
  description: string;
  /** Why there is no embedder, when one was configured but does not work. */
  problem?: string;
}

const PROBE_TEXT = 'Spacebot embedder probe';

function describe(config: EmbedderConfig): string {
  if (config.kind === 'none') return 'none';
  if (config.kind === 'local') return `local ${config.path ?? config.model}`;
  return `openai-compatible ${config.model} at ${config.baseUrl}`;
}

async function build(config: Exclude<EmbedderConfig, { kind: 'none' }>): Promise<Embedder> {
  if (config.kind === 'local') {
    return createLocalEmbedder({ model: config.model, path: config.path, allowDownload: config.allowDownload, cacheDir: config.cacheDir, dimensions: config.dimensions });
  }
  if (!config.apiKey && new URL(config.baseUrl).hostname === 'api.openai.com') {
    throw new Error(`no API key: set ${config.apiKeyEnv} (or [memory] api_key_env to the variable that holds it)`);
  }
  // Local servers (Ollama, LM Studio) take any key; the SDK insists on one.
  return createOpenAiEmbedder({ baseURL: config.baseUrl, apiKey: config.apiKey ?? 'unused', model: config.model, dimensions: config.dimensions });
}

function fixFor(config: EmbedderConfig): string {
  if (config.kind === 'local') {
    return config.path
      ? 'point [memory] path at a model directory (config.json, tokenizer.json, onnx/model.onnx)'
      : `set [memory] allow_download = true once on a machine with internet, or [memory] path to a model directory, or [memory] embedder = "openai" with a base_url`;
  }
  return `check [memory] base_url, model and api_key_env (the endpoint must answer POST /embeddings with ${EMBEDDING_DIMENSIONS}-dimension vectors)`;
}

export async function selectEmbedder(config: EmbedderConfig, logger?: Logger): Promise<EmbedderSelection> {
  const description = describe(config);
  if (config.kind === 'none') {
    logger?.info('memory embeddings off ([memory] embedder = "none"): recall uses full text and the memory graph');
    return { embedder: null, description };
  }
  try {
    const embedder = await build(config);
    await embedChecked(embedder, [PROBE_TEXT]);
    logger?.info({ embedder: description, dimensions: embedder.dimensions }, 'memory embedder ready');
    return { embedder, description };
  } catch (err) {
    const cause = (err as Error).message;
    logger?.warn(
      { embedder: description },
      `memory embedder ${description} does not work, so memories are saved without embeddings and recall uses full text and the memory graph only: ${cause}. Fix: ${fixFor(config)}; or set [memory] embedder = "none" to silence this warning`,
    );
    return { embedder: null, description, problem: cause };
  }
}
