/** The `reply` tool's text, read from its JSON arguments while they stream, whatever the split. */
import { ReplyTextReader } from '../../lib/streaming/reply-text.js';

function readAll(fragments: string[]): string[] {
  const reader = new ReplyTextReader();
  return fragments.map((f) => reader.push(f));
}

describe('ReplyTextReader', () => {
  const text = 'He said "hi" \\ then\nleft\t— 🦊 done \u00e9';
  const cases: Record<string, string> = {
    'text first': JSON.stringify({ text }),
    'text after other keys': JSON.stringify({ mood: { text: 'not this one', list: ['"text"', 1] }, text }),
    'ascii-escaped unicode': JSON.stringify({ text }).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    'spaces around the colon': `{ "text" :  ${JSON.stringify(text)} }`,
  };

  it.each(Object.entries(cases))('reads the whole text, never twice, for every split point (%s)', (_name, json) => {
    for (let a = 0; a <= json.length; a++) {
      for (const b of [a, Math.min(json.length, a + 1), Math.min(json.length, a + 7)]) {
        const pieces = readAll([json.slice(0, a), json.slice(a, b), json.slice(b)]);
        expect(pieces.join('')).toBe(text);
        // Nothing is shown in a form that is later corrected: each piece is a prefix extension.
        expect(pieces.every((p) => !p.includes('\ufffd'))).toBe(true);
      }
    }
  });

  it('reads character by character', () => {
    const json = cases['ascii-escaped unicode'] as string;
    expect(readAll(Array.from(json)).join('')).toBe(text);
  });

  it('shows nothing when text is not a string or the arguments are not an object', () => {
    expect(readAll(['{"text": 42, "other": "x"}']).join('')).toBe('');
    expect(readAll(['["text", "x"]']).join('')).toBe('');
    expect(readAll(['{"title": "text"}']).join('')).toBe('');
  });
});
