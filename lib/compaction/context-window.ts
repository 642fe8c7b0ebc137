import { formatModelRef, type ModelRef, type SpacebotConfig } from '../config/types.js';

/**
 * Context windows (input + output tokens a model accepts) of common models, matched against the model
 * name without its provider, so the same entry serves `anthropic/claude-…` and
 * `openrouter/anthropic/claude-…`. The first matching pattern wins; more specific patterns come first.
 * `[models."provider/model"] context_window` overrides the table, and models the table does not know
 * get DEFAULT_CONTEXT_WINDOW, which is deliberately modest: compacting early costs a summary,
 * overflowing costs a failed turn.
 */
export const DEFAULT_CONTEXT_WINDOW = 128_000;

export const KNOWN_CONTEXT_WINDOWS: readonly (readonly [pattern: RegExp, tokens: number])[] = [
  // Anthropic: 200k for every Claude model (the 1M window is an opt-in beta; configure it per model).
  [/(^|\/)claude-/, 200_000],
  // OpenAI.
  [/(^|\/)gpt-5/, 400_000],
  [/(^|\/)gpt-4\.1/, 1_047_576],
  [/(^|\/)gpt-4o/, 128_000],
  [/(^|\/)gpt-4-turbo/, 128_000],
  [/(^|\/)gpt-4(-\d+)?$/, 8_192],
  [/(^|\/)gpt-3\.5-turbo/, 16_385],
  [/(^|\/)o[134](-mini|-pro)?(-|$)/, 200_000],
  // Google.
  [/(^|\/)gemini-(2|3)/, 1_048_576],
  [/(^|\/)gemini-1\.5-pro/, 2_097_152],
  [/(^|\/)gemini-1\.5-flash/, 1_048_576],
  // xAI.
  [/(^|\/)grok-4/, 256_000],
  [/(^|\/)grok-3/, 131_072],
  // Open-weight families as the usual hosts serve them.
  [/(^|\/)deepseek/, 128_000],
  [/(^|\/)qwen3-coder/, 262_144],
  [/(^|\/)qwen/, 131_072],
  [/(^|\/)(meta-)?llama-?3\.[1-3]/, 131_072],
  [/(^|\/)llama-?4/, 1_048_576],
  [/(^|\/)mistral-large/, 128_000],
  [/(^|\/)(mistral-(small|medium)|codestral|ministral)/, 128_000],
  [/(^|\/)kimi-k2/, 131_072],
];

/** The context window of a model: the config's `context_window`, else the table, else the default. */
export function contextWindowFor(config: Pick<SpacebotConfig, 'models'>, model: ModelRef | string): number {
  const key = typeof model === 'string' ? model : formatModelRef(model);
  const configured = config.models[key]?.contextWindow;
  if (configured !== undefined) return configured;
  const slash = key.indexOf('/');
  const name = (slash > 0 ? key.slice(slash + 1) : key).toLowerCase();
  for (const [pattern, tokens] of KNOWN_CONTEXT_WINDOWS) if (pattern.test(name)) return tokens;
  return DEFAULT_CONTEXT_WINDOW;
}
