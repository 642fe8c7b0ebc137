import { entryMessage, type StoredEntry } from './entries.js';

/** Longest tool input or result quoted to the summariser; the rest is cut (it is in the archive). */
export const MAX_QUOTED_CHARS = 4_000;

/**
 * The summariser's input: the previous summary (if any) and the removed turns as a plain transcript.
 * Tool calls and results are written out as text rather than sent as tool blocks, so the compactor
 * model needs no tool definitions and cannot be tempted to call anything.
 */
export function summariserInput(entries: readonly StoredEntry[], previousSummary?: string): string {
  const sections: string[] = [];
  if (previousSummary?.trim()) sections.push(`<previous_summary>\n${previousSummary.trim()}\n</previous_summary>`);
  sections.push(`<transcript>\n${renderTranscript(entries)}\n</transcript>`);
  sections.push('Write the new summary now.');
  return sections.join('\n\n');
}

export function renderTranscript(entries: readonly StoredEntry[]): string {
  const lines: string[] = [];
  let turn: number | undefined;
  const names = new Map<string, string>();
  for (const entry of entries) {
    if (entry.turnSeq !== turn) {
      turn = entry.turnSeq;
      lines.push(`--- turn ${turn} ---`);
    }
    const message = entryMessage(entry);
    for (const part of message.parts) {
      if (part.type === 'text') {
        if (part.text.trim()) lines.push(`${message.role === 'user' ? 'User' : 'Assistant'}: ${part.text.trim()}`);
      } else if (part.type === 'tool_call') {
        names.set(part.id, part.name);
        lines.push(`Assistant called ${part.name}(${quote(JSON.stringify(part.input))})`);
      } else {
        const name = names.get(part.toolCallId) ?? 'tool';
        lines.push(`${part.isError ? 'Error from' : 'Result of'} ${name}: ${quote(part.content)}`);
      }
    }
  }
  return lines.join('\n');
}

function quote(text: string): string {
  return text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)} [… ${text.length - MAX_QUOTED_CHARS} more characters]` : text;
}
