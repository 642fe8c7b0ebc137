import type { ToolCall } from '../../activities/contract.js';
import { defuseMentions } from './defuse-mentions.js';

/** Emoji that decide an approval by reaction. Telegram only offers a fixed set, hence 👍/👎 too. */
export const APPROVE_EMOJI: readonly string[] = ['✅', '✔️', '✔', '👍'];
export const DENY_EMOJI: readonly string[] = ['❌', '✖️', '🚫', '👎'];

const MAX_SUMMARY_CHARS = 600;

/**
 * What the approver is asked to allow, in one short text: the command, or the file and the size of
 * what would be written. Written by the model, so it is cut, and its backticks are replaced so it
 * cannot close the code span the notice shows it in.
 */
export function summarizeCall(call: ToolCall): string {
  const input = call.input;
  const str = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v ?? ''));
  let text: string;
  if (call.name === 'shell') text = str(input.command);
  else if (call.name === 'file_write') text = `${str(input.path)} (${str(input.content).length} characters)`;
  else if (call.name === 'file_edit') text = `${str(input.path)}`;
  else text = JSON.stringify(input);
  const clean = text.replace(/`/g, "'").replace(/\s+/g, ' ').trim();
  return clean.length > MAX_SUMMARY_CHARS ? `${clean.slice(0, MAX_SUMMARY_CHARS - 1)}…` : clean;
}

/**
 * The message posted in the conversation: what waits, and the ways to decide it. The summary is the
 * model's (a command, a path), so its mentions are defused: a notice must not ping a channel.
 */
export function noticeText(a: { id: string; agentId: string; workerRef: string; tool: string; summary: string; timeoutMs: number }): string {
  const minutes = Math.max(1, Math.round(a.timeoutMs / 60_000));
  return [
    `Approval needed [${a.id}]: ${a.workerRef} wants to run ${a.tool}: \`${defuseMentions(a.summary)}\``,
    `An approver reacts ✅ (or 👍) to allow it, ❌ (or 👎) to deny it; or: spacebot approvals approve|deny ${a.agentId} ${a.id}. Denied automatically after ${minutes} min.`,
  ].join('\n');
}
