import type { ContextEntryInput } from '../activities/contract.js';

/**
 * The tool-loop guard of one process run (a channel turn, a worker or branch run). A model stuck in a loop calls the
 * same tool with the same arguments again and again; the first repeat is run but warned about, every
 * further repeat is blocked (not run; an error result explains). Pure and deterministic: it lives in
 * workflow code and is rebuilt identically on replay.
 */

export type LoopVerdict = 'ok' | 'warn' | 'block';

/**
 * Context index of the warning about a step's call `idx`: after the step's tool results (1 + call
 * index) and before messages a channel steers into the step (1000 on).
 */
export const LOOP_WARNING_IDX = 900;

/** What screening a step's call adds to the context: at most one entry, and whether the call runs. */
export type Screened = { run: true; warning?: ContextEntryInput } | { run: false; blocked: ContextEntryInput };

/** What the guard needs of a tool call (structurally an activities/contract ToolCall). */
export interface GuardedCall {
  name: string;
  input: unknown;
}

export interface ToolLoopGuardOptions {
  /** Calls of these tools are never warned or blocked (e.g. polling a status on purpose). */
  exempt?: readonly string[];
}

export class ToolLoopGuard {
  private readonly seen = new Map<string, number>();
  private readonly exempt: ReadonlySet<string>;

  constructor(options: ToolLoopGuardOptions = {}) {
    this.exempt = new Set(options.exempt ?? []);
  }

  /** Records the call and says what to do with it: 'ok' (first time), 'warn' (first repeat), 'block'. */
  check(call: GuardedCall): LoopVerdict {
    if (this.exempt.has(call.name)) return 'ok';
    const key = callKey(call);
    const count = (this.seen.get(key) ?? 0) + 1;
    this.seen.set(key, count);
    return count === 1 ? 'ok' : count === 2 ? 'warn' : 'block';
  }

  /**
   * check() for call `idx` of a step, as context entries: a blocked call gets its error result (and must
   * not run); a warned one runs, with a warning placed after the step's results.
   */
  screen(call: GuardedCall & { id: string }, at: { turnSeq: number; step: number; idx: number }): Screened {
    const verdict = this.check(call);
    const { turnSeq, step, idx } = at;
    if (verdict === 'block') return { run: false, blocked: { turnSeq, step, idx: 1 + idx, role: 'tool', toolCallId: call.id, text: loopBlockedText(call), isError: true } };
    if (verdict === 'warn') return { run: true, warning: { turnSeq, step, idx: LOOP_WARNING_IDX + idx, role: 'user', text: loopWarningText(call) } };
    return { run: true };
  }

  /** How many times this exact call has been checked so far. */
  timesSeen(call: GuardedCall): number {
    return this.seen.get(callKey(call)) ?? 0;
  }
}

/** Added to the context next to a warned call's result. */
export function loopWarningText(call: GuardedCall): string {
  return `You already called ${call.name} with these same arguments earlier in this task; its result is above. Repeating it will not help: try something different. A further identical call will be blocked.`;
}

/** The error result of a blocked call (it was not run). */
export function loopBlockedText(call: GuardedCall): string {
  return `Blocked: ${call.name} was already called with exactly these arguments more than once, so this call was not run. Its earlier results are above; change the arguments or take a different approach.`;
}

/** The identity of a call: tool name plus its arguments as canonical JSON. */
export function callKey(call: GuardedCall): string {
  return `${call.name}\u0000${canonicalJson(call.input)}`;
}

/** JSON with object keys sorted at every depth, so `{a, b}` and `{b, a}` are the same call. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}
