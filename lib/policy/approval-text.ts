import { createHash } from 'node:crypto';
import type { ToolCall } from '../../activities/contract.js';
import { defuseMentions } from './defuse-mentions.js';
import { visiblePrefix, visibleText } from './visible-text.js';

/** Emoji that decide an approval by reaction. Telegram only offers a fixed set, hence 👍/👎 too. */
export const APPROVE_EMOJI: readonly string[] = ['✅', '✔️', '✔', '👍'];
export const DENY_EMOJI: readonly string[] = ['❌', '✖️', '🚫', '👎'];

/**
 * What of a call's text the notice may show: Discord takes 2000 characters a message (the smallest
 * of the platforms), and the notice must be one message, the one approvers react to. The rest is
 * never cut silently: the notice says how much more there is and where to read it.
 */
const NOTICE_HEADLINE_CHARS = 300;
const NOTICE_BLOCK_CHARS = 1100;

/** A call as the approver is asked to allow it: a line naming what it acts on, and the text it runs or writes. */
interface CallDescription {
  /** The file it acts on (model-written). */
  target?: string;
  /** What we computed about it (size, hash): trusted text. */
  detail?: string;
  blocks: { label?: string; text: string }[];
}

const str = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v ?? ''));

function describeCall(call: ToolCall): CallDescription {
  const input = call.input;
  if (call.name === 'shell') return { blocks: [{ text: str(input.command) }] };
  if (call.name === 'file_write') {
    // What will be written, not just where: its size and hash pin the exact bytes, the preview shows them.
    const content = Buffer.from(str(input.content), 'utf8');
    const sha = createHash('sha256').update(content).digest('hex');
    return { target: str(input.path), detail: `${content.length} bytes, sha256 ${sha}`, blocks: [{ label: 'content', text: str(input.content) }] };
  }
  if (call.name === 'file_edit') return { target: str(input.path), blocks: [{ label: 'replace', text: str(input.old_text) }, { label: 'with', text: str(input.new_text) }] };
  return { blocks: [{ text: JSON.stringify(input, null, 2) }] };
}

/**
 * What the approver is asked to allow, in full and faithfully (stored, and returned by the API): the
 * command (each line on its own line), or the file with what would be written. Invisible and
 * reordering characters are written out as escapes (visible-text.ts); nothing is cut.
 */
export function summarizeCall(call: ToolCall): string {
  const d = describeCall(call);
  const parts = d.target === undefined ? [] : [`${visibleText(d.target)}${d.detail ? ` (${d.detail})` : ''}`];
  for (const b of d.blocks) parts.push(b.label ? `${b.label}:\n${visibleText(b.text)}` : visibleText(b.text));
  return parts.join('\n');
}

/**
 * The message posted in the conversation: what waits, shown as summarizeCall shows it but inside
 * the platform's message size, and the ways to decide it. The text is the model's, so its mentions
 * are defused (a notice must not ping a channel), and what does not fit is announced, never dropped
 * silently: the full input is in `spacebot approvals show` and the approvals API.
 */
export function noticeText(a: { id: string; agentId: string; workerRef: string; call: ToolCall; timeoutMs: number }): string {
  const minutes = Math.max(1, Math.round(a.timeoutMs / 60_000));
  const d = describeCall(a.call);
  const more = (n: number) => `(${n} more character${n === 1 ? '' : 's'} not shown: see \`spacebot approvals show ${a.agentId} ${a.id}\` or GET /v1/agents/${a.agentId}/approvals)`;
  const lines: string[] = [];
  let target = '';
  if (d.target !== undefined) {
    // In a code span, so a path cannot format the notice; any backtick in it is written out, so it cannot close the span.
    const path = visiblePrefix(d.target, NOTICE_HEADLINE_CHARS, (s) => defuseMentions(s.replace(/`/g, '\\u0060')));
    target = ` on \`${path.shown}\`${path.omitted ? ` ${more(path.omitted)}` : ''}${d.detail ? ` (${d.detail})` : ''}`;
  }
  lines.push(`Approval needed [${a.id}]: ${a.workerRef} wants to run ${a.call.name}${target}:`);
  let budget = NOTICE_BLOCK_CHARS;
  for (const b of d.blocks) {
    const shown = visiblePrefix(b.text, Math.max(0, budget), defuseMentions);
    budget -= shown.shown.length;
    if (b.label) lines.push(`${b.label}:`);
    // A fence of its own lines: every line of the command shows as a line, and no backtick run in it can close the block.
    lines.push('```', b.text.length === 0 ? '(empty)' : shown.shown, '```');
    if (shown.omitted) lines.push(more(shown.omitted));
  }
  lines.push(`An approver reacts ✅ (or 👍) to allow it, ❌ (or 👎) to deny it; or: spacebot approvals approve|deny ${a.agentId} ${a.id}. Denied automatically after ${minutes} min.`);
  return lines.join('\n');
}
