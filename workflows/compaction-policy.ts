/**
 * When a channel compacts its context (issue 3). Pure and deterministic: the channel workflow calls it
 * after every LLM call with the context's size (the provider's reported input tokens, see
 * lib/compaction/tokens.ts `contextTokensOf`) and the answering model's window.
 *
 * - below 80 %: nothing;
 * - from 80 %: summarise the oldest 30 % of the context's turns (a child workflow; the channel keeps
 *   answering meanwhile);
 * - from 85 %: summarise the oldest 50 %;
 * - from 95 %: truncate the oldest 50 % at once, without an LLM call (the next call might not fit).
 */

export const SUMMARISE_THRESHOLD = 0.8;
export const SUMMARISE_FRACTION = 0.3;
export const SUMMARISE_MORE_THRESHOLD = 0.85;
export const SUMMARISE_MORE_FRACTION = 0.5;
export const TRUNCATE_THRESHOLD = 0.95;
export const TRUNCATE_FRACTION = 0.5;

export type CompactionAction =
  | { kind: 'none'; usage: number }
  | { kind: 'summarise'; fraction: number; usage: number }
  | { kind: 'truncate'; fraction: number; usage: number };

/** What to do about a context of `usedTokens` in a window of `contextWindow` tokens. */
export function compactionAction(usedTokens: number, contextWindow: number): CompactionAction {
  if (!(contextWindow > 0) || !(usedTokens >= 0)) return { kind: 'none', usage: 0 };
  const usage = usedTokens / contextWindow;
  if (usage >= TRUNCATE_THRESHOLD) return { kind: 'truncate', fraction: TRUNCATE_FRACTION, usage };
  if (usage >= SUMMARISE_MORE_THRESHOLD) return { kind: 'summarise', fraction: SUMMARISE_MORE_FRACTION, usage };
  if (usage >= SUMMARISE_THRESHOLD) return { kind: 'summarise', fraction: SUMMARISE_FRACTION, usage };
  return { kind: 'none', usage };
}
