import { chunkText, CHUNK_CHARS, sha256Hex } from '../../lib/ingest/chunk.js';
import { extractText, UnsupportedFileError } from '../../lib/ingest/text.js';
import { makePdf } from './pdf.js';

describe('chunkText', () => {
  const line = (i: number) => `Line ${i}: ${'word '.repeat(15).trim()}`;

  test('packs whole lines into chunks of at most ~4,000 characters, in order, losing nothing', () => {
    const lines = Array.from({ length: 400 }, (_, i) => line(i));
    const chunks = chunkText(lines.join('\n'));
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(CHUNK_CHARS);
    // Every chunk but the last is nearly full: packing works.
    for (const c of chunks.slice(0, -1)) expect(c.text.length).toBeGreaterThan(CHUNK_CHARS - line(999).length - 1);
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    expect(chunks.flatMap((c) => c.text.split('\n'))).toEqual(lines);
  });

  test('identifies each chunk by the SHA-256 of its text, the same on every run and line ending', () => {
    const text = Array.from({ length: 300 }, (_, i) => line(i)).join('\n');
    const a = chunkText(text);
    const b = chunkText(text.replace(/\n/g, '\r\n'));
    expect(b.map((c) => c.sha256)).toEqual(a.map((c) => c.sha256));
    for (const c of a) expect(c.sha256).toBe(sha256Hex(c.text));
    expect(new Set(a.map((c) => c.sha256)).size).toBe(a.length);
  });

  test('cuts a line longer than a chunk at a space, and drops blank stretches', () => {
    const long = Array.from({ length: 2000 }, (_, i) => `w${i}`).join(' ');
    const chunks = chunkText(`\n\n   \n${long}\n\n\n`, 1000);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(1000);
    expect(chunks.map((c) => c.text).join(' ').split(/\s+/)).toEqual(long.split(' '));
    expect(chunkText('  \n\n \t\n')).toEqual([]);
  });
});

describe('extractText', () => {
  test('reads text and Markdown as UTF-8', async () => {
    expect(await extractText('notes.md', Buffer.from('\uFEFF# Plan\n\n- ship ingestion ✓\n'))).toBe('# Plan\n\n- ship ingestion ✓\n');
    expect(await extractText('a.TXT', Buffer.from('plain'))).toBe('plain');
  });

  test('extracts the text of every page of a PDF', async () => {
    const pdf = makePdf([
      ['Quarterly plan (draft)', 'Alice owns the Berlin move.'],
      ['Page two: the budget is 40k EUR.'],
    ]);
    const text = await extractText('plan.pdf', pdf);
    expect(text).toContain('Quarterly plan (draft)');
    expect(text).toContain('Alice owns the Berlin move.');
    expect(text).toContain('Page two: the budget is 40k EUR.');
    expect(text.indexOf('Alice')).toBeLessThan(text.indexOf('Page two'));
  });

  test('refuses unsupported and broken files with a clear error', async () => {
    await expect(extractText('photo.png', Buffer.from('x'))).rejects.toThrow(/supported files are \.txt, \.md, \.markdown, \.pdf/);
    await expect(extractText('broken.pdf', Buffer.from('not a pdf at all'))).rejects.toBeInstanceOf(UnsupportedFileError);
  });
});
