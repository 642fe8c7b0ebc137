import { utf8Length } from './inbound-validation.js';
import { isActive, type ProcessRecord } from './process-contract.js';

/**
 * What of a channel's process list goes into its continue-as-new input. Tasks may be 8000
 * characters and a branch's conclusion is whatever the model wrote, so carried as they are, a
 * channel with many finished, unreported processes could exceed Temporal's 2 MB payload limit, and
 * the server would fail the run instead of continuing it. Each record is bounded, and so is the
 * list: every running process goes on (their number is bounded by max_branches + max_workers), then
 * finished, unreported ones, newest first, while the budget lasts.
 */

/** Largest carried record, as JSON in UTF-8 bytes. */
export const CARRIED_RECORD_BYTES = 4096;
/** Largest carried process list, as JSON in UTF-8 bytes: with the bounded queue and seen ids, far below 2 MB. */
export const CARRIED_PROCESSES_BYTES = 512 * 1024;
/** A carried task: the status block and the results message show only 160 characters of it anyway. */
const TASK_BYTES = 1024;
const STATUS_BYTES = 512;

export interface CarriedProcesses {
  carried: ProcessRecord[];
  /** Workflow ids of finished processes whose unreported outcome did not fit (logged by the caller). */
  dropped: string[];
}

export function carriedProcesses(processes: readonly ProcessRecord[]): CarriedProcesses {
  const kept = processes.filter((p) => isActive(p) || !p.reported).map(boundRecord);
  const sizes = new Map(kept.map((p) => [p, jsonBytes(p)]));
  let total = kept.filter(isActive).reduce((sum, p) => sum + (sizes.get(p) ?? 0), 0);
  const dropped = new Set<ProcessRecord>();
  for (const p of kept.filter((x) => !isActive(x)).reverse()) {
    const size = sizes.get(p) ?? 0;
    if (total + size > CARRIED_PROCESSES_BYTES) dropped.add(p);
    else total += size;
  }
  return { carried: kept.filter((p) => !dropped.has(p)), dropped: [...dropped].map((p) => p.id) };
}

/** The record within CARRIED_RECORD_BYTES: task and status clipped, then the result, which says where the rest is. */
export function boundRecord(p: ProcessRecord): ProcessRecord {
  // Measured on prefixes (a character is at least a byte): a record of long texts costs no more to check than a short one.
  const cap = (text: string | undefined) => text?.slice(0, CARRIED_RECORD_BYTES + 1);
  if (jsonBytes({ ...p, task: cap(p.task), status: cap(p.status), result: cap(p.result) }) <= CARRIED_RECORD_BYTES) return p;
  const bounded: ProcessRecord = { ...p, task: clipToBytes(p.task, TASK_BYTES, ' …') };
  if (p.status !== undefined) bounded.status = clipToBytes(p.status, STATUS_BYTES, ' …');
  if (p.result !== undefined) {
    const { result: _result, ...rest } = bounded;
    const room = CARRIED_RECORD_BYTES - jsonBytes({ ...rest, result: '' });
    bounded.result = clipToBytes(p.result, room, ` … [clipped: the whole text is the result of workflow ${p.id}]`);
  }
  return bounded;
}

function jsonBytes(value: unknown): number {
  return utf8Length(JSON.stringify(value));
}

/** The longest prefix of text that, with the note, is at most maxBytes as a JSON string (never splitting a surrogate pair). One pass. */
function clipToBytes(text: string, maxBytes: number, note: string): string {
  if (text.length <= maxBytes && jsonBytes(text) <= maxBytes) return text;
  const room = maxBytes - jsonBytes(note);
  if (room < 0) return '';
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1));
    const width = pair ? 4 : escapedWidth(c);
    if (used + width > room) break;
    used += width;
    i += pair ? 2 : 1;
  }
  return text.slice(0, i) + note;
}

/** UTF-8 bytes of one UTF-16 unit inside a JSON string, as JSON.stringify escapes it. */
function escapedWidth(c: number): number {
  if (c === 0x22 || c === 0x5c) return 2;
  if (c < 0x20) return c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6;
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdfff) return 6; // a lone surrogate: \uXXXX
  return 3;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
