import { splitToolPairs, turnStats, type StoredEntry } from './entries.js';

/**
 * Which turns a compaction takes: the oldest `fraction` of the turns in the context, rounded up to a
 * whole turn and cut only at turn boundaries, so a tool call and its result (always stored in the
 * same turn) never land on different sides.
 *
 * "The turns in the context" are what an LLM call sees: the raw turns after the latest summary, and
 * of those only the last `historyTurns` (loadContext's bound). Turns older than that window but newer
 * than the summary are no longer read by the model; they are archived and removed with the range but
 * not summarised (the model had already stopped seeing them).
 */
export interface CompactionRange {
  /** First turn removed from context_entries (and archived). */
  fromTurn: number;
  /** First turn the summariser reads (the oldest turn still inside the history window). */
  summaryFromTurn: number;
  /** Last turn removed, inclusive. */
  throughTurn: number;
  /** Turns removed, entries removed, and their estimated tokens. */
  turns: number;
  entries: number;
  tokens: number;
  /** Turns in the context when planned (the base of `fraction`). */
  contextTurns: number;
}

export interface RangeRequest {
  /** The raw rows after the latest summary, in context order (all of them, also those after `eligibleThrough`). */
  entries: readonly StoredEntry[];
  /** Share of the context's turns to take, 0 < fraction <= 1. */
  fraction: number;
  /** The newest turn that may be taken: the channel's last completed turn (never the running one). */
  eligibleThrough: number;
  /** loadContext's bound on raw turns. */
  historyTurns: number;
}

/** The range to compact, or undefined when no whole turn can be taken. */
export function chooseCompactionRange({ entries, fraction, eligibleThrough, historyTurns }: RangeRequest): CompactionRange | undefined {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`compaction fraction must be in (0, 1], got ${fraction}`);
  const turns = turnStats(entries);
  const latest = turns[turns.length - 1]?.turnSeq;
  if (latest === undefined) return undefined;
  const window = turns.filter((t) => t.turnSeq > latest - historyTurns);
  // A small epsilon keeps 0.3 × 10 from rounding up to 4.
  const wanted = Math.max(1, Math.ceil(fraction * window.length - 1e-9));
  const eligible = window.filter((t) => t.turnSeq <= eligibleThrough);
  // The cut is the newest boundary at or before the wanted one that splits no tool pair.
  for (let i = Math.min(wanted, eligible.length) - 1; i >= 0; i--) {
    const cut = eligible[i];
    const first = turns[0];
    const start = window[0];
    if (!cut || !first || !start) break;
    if (splitToolPairs(entries, cut.turnSeq).length) continue;
    const taken = turns.filter((t) => t.turnSeq <= cut.turnSeq);
    return {
      fromTurn: first.turnSeq,
      summaryFromTurn: start.turnSeq,
      throughTurn: cut.turnSeq,
      turns: taken.length,
      entries: taken.reduce((s, t) => s + t.entries, 0),
      tokens: taken.reduce((s, t) => s + t.tokens, 0),
      contextTurns: window.length,
    };
  }
  return undefined;
}
