import type { NeutralRequest, ScriptStep } from '../fake-llm/server.js';

/** The text of the document part the extraction request carries, or undefined for other requests. */
export function documentPart(req: NeutralRequest): string | undefined {
  const first = req.messages.find((m) => m.role === 'user')?.text ?? '';
  return /<document-part>\n([\s\S]*?)\n<\/document-part>/.exec(first)?.[1];
}

/**
 * A model that reads a document part and saves one memory per line starting with "FACT:", then,
 * when it sees the tool results, answers with a summary. Other requests get plain text.
 */
export function extractionScript(req: NeutralRequest): ScriptStep {
  const part = documentPart(req);
  if (part === undefined) return { text: 'ok' };
  const last = req.messages[req.messages.length - 1];
  if (last?.role === 'tool') return { text: 'Saved what was worth keeping.' };
  const facts = part.split('\n').filter((l) => l.startsWith('FACT:'));
  if (facts.length === 0) return { text: 'Nothing worth keeping here.' };
  return { toolCalls: facts.map((f) => ({ name: 'memory_save', input: { content: f.slice(5).trim(), type: 'fact' } })) };
}

/**
 * A document of exactly `chunks` chunks: each part is one FACT line naming it plus filler, exactly
 * 4,000 characters long, so greedy packing puts each part in a chunk of its own.
 */
export function documentWith(chunks: number, tag: string): string {
  const parts: string[] = [];
  for (let i = 0; i < chunks; i++) {
    const lines = [`FACT: ${tag} part ${i} says the number is ${i * 7}.`];
    let length = lines[0]?.length ?? 0;
    for (let j = 0; length < 4000; j++) {
      const room = 4000 - length - 1;
      const line = `${tag} filler ${i}.${j}: ${'lorem ipsum dolor sit amet '.repeat(6)}`.slice(0, Math.min(150, room)).trimEnd().padEnd(Math.min(150, room), '.');
      lines.push(line);
      length += line.length + 1;
    }
    parts.push(lines.join('\n'));
  }
  return parts.join('\n');
}
