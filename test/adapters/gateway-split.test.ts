import { describe, expect, it } from '@jest/globals';
import { splitMessage } from '../../adapters/split.js';

/** Every fence in a part is balanced: an even number of ``` lines. */
function fencesBalanced(part: string): boolean {
  return part.split('\n').filter((line) => /^ {0,3}```/.test(line)).length % 2 === 0;
}

describe('splitMessage', () => {
  it('returns short text unchanged and nothing for empty text', () => {
    expect(splitMessage('hello', 100)).toEqual(['hello']);
    expect(splitMessage('', 100)).toEqual([]);
  });

  it('rejects a limit too small to hold a reopened fence', () => {
    expect(() => splitMessage('x'.repeat(50), 4)).toThrow(/maxChars/);
  });

  it('prefers paragraph breaks, then lines, then spaces, keeping every word', () => {
    const paragraphs = Array.from({ length: 6 }, (_, i) => `Paragraph ${i} ` + 'word '.repeat(30).trim());
    const text = paragraphs.join('\n\n');
    const parts = splitMessage(text, 400);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(400);
      // Cut at a paragraph boundary: each part starts with a paragraph's beginning.
      expect(part.startsWith('Paragraph ')).toBe(true);
    }
    expect(parts.join('\n\n')).toBe(text);
  });

  it('wraps a single long line at spaces and cuts only words longer than a part', () => {
    const text = 'alpha '.repeat(100).trim();
    const parts = splitMessage(text, 50);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(50);
      expect(part).toMatch(/^(alpha ?)+$/);
    }
    expect(parts.join(' ')).toBe(text);
    const word = 'x'.repeat(130);
    const cut = splitMessage(word, 50);
    expect(cut.join('')).toBe(word);
    expect(cut.every((p) => p.length <= 50)).toBe(true);
  });

  it('does not cut inside a code block when a break outside it is available', () => {
    const intro = 'Here is the code you asked for, with an explanation after it. '.repeat(3).trim();
    const code = '```ts\n' + Array.from({ length: 8 }, (_, i) => `const v${i} = ${i};`).join('\n') + '\n```';
    const text = `${intro}\n\n${code}\n\nThat is all.`;
    const parts = splitMessage(text, 200);
    expect(parts.some((p) => p.includes(code))).toBe(true);
    for (const part of parts) expect(fencesBalanced(part)).toBe(true);
  });

  it('closes and reopens a code block longer than a part, with its language tag', () => {
    const body = Array.from({ length: 60 }, (_, i) => `print("line ${i}")`).join('\n');
    const text = 'Intro.\n\n```python\n' + body + '\n```\nDone.';
    const parts = splitMessage(text, 300);
    expect(parts.length).toBeGreaterThan(3);
    for (const [index, part] of parts.entries()) {
      expect(part.length).toBeLessThanOrEqual(300);
      expect(fencesBalanced(part)).toBe(true);
      if (index > 0 && index < parts.length - 1) expect(part.startsWith('```python\n')).toBe(true);
    }
    // The code lines survive in order, none lost or repeated.
    const lines = parts.join('\n').split('\n').filter((l) => l.startsWith('print('));
    expect(lines).toEqual(body.split('\n'));
    expect(parts.at(-1)).toMatch(/Done\.$/);
  });

  it('never splits a surrogate pair', () => {
    const text = '😀'.repeat(40);
    const parts = splitMessage(text, 17);
    expect(parts.join('')).toBe(text);
    for (const part of parts) expect(part).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/);
  });
});
