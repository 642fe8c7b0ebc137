import type { NeutralRequest, ScriptStep } from '../../test/fake-llm/server.js';

/**
 * What the fake LLM does in the chaos run and the soak bench: the channel answers every message id it
 * is shown and has not answered yet with one `reply` naming those ids, so each reply that reaches the
 * platform says which inbound messages it answers, and doubles and losses can be counted per message.
 */

/** `cx-<conversation>-<n>`: a chaos message id as written into the message text. */
export const MESSAGE_ID_PATTERN = /\bcx-\d+-\d+\b/g;

export function messageTag(conversation: number, n: number): string {
  return `cx-${conversation}-${n}`;
}

export function tagsIn(text: string): string[] {
  return [...new Set(text.match(MESSAGE_ID_PATTERN) ?? [])];
}

/**
 * The user messages since the model last spoke: the turn's message(s), plus any that joined it
 * (queue mode `steer`) after a tool result. Older turns, already answered, are not looked at.
 */
function unansweredText(req: NeutralRequest): string {
  const texts: string[] = [];
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i]!;
    if (m.role === 'assistant') break;
    if (m.role === 'user') texts.push(m.text);
  }
  return texts.join('\n');
}

export function chaosAgent(req: NeutralRequest): ScriptStep {
  // Channels are offered `reply`; anything else (branches, workers, compaction, cortex) gets plain text.
  if (!req.tools.includes('reply')) return { text: 'ok' };
  const tags = tagsIn(unansweredText(req));
  if (tags.length === 0) return { toolCalls: [{ name: 'skip', input: {} }] };
  return { toolCalls: [{ name: 'reply', input: { text: `ack ${tags.join(' ')}` } }] };
}
