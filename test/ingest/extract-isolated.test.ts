import { extractTextIsolated } from '../../lib/ingest/extract-isolated.js';
import { DEFAULT_INGEST_LIMITS } from '../../lib/ingest/limits.js';
import { UnsupportedFileError } from '../../lib/ingest/text.js';
import { makePdf } from './pdf.js';
import { formBomb } from './pdf-bomb.js';

/**
 * Text extraction in its child process: the limits that a crafted file meets when the caps on pages and
 * characters cannot see it coming (one page that expands for minutes, or until memory runs out).
 */
describe('extractTextIsolated', () => {
  it('returns the text of an ordinary PDF and of a text file', async () => {
    const pdf = makePdf([['Hello from page one.'], ['And page two.']]);
    expect(await extractTextIsolated('a.pdf', pdf, DEFAULT_INGEST_LIMITS)).toBe('Hello from page one.\n\nAnd page two.');
    expect(await extractTextIsolated('a.md', Buffer.from('\uFEFF# Notes\nüber'), DEFAULT_INGEST_LIMITS)).toBe('# Notes\nüber');
  });

  it('kills a parse that runs past extract_timeout_seconds and refuses the file', async () => {
    const started = Date.now();
    const err = await extractTextIsolated('bomb.pdf', formBomb(6, 10), { ...DEFAULT_INGEST_LIMITS, extractTimeoutMs: 1500, maxChars: 100_000_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedFileError);
    expect((err as Error).message).toBe('reading the file took longer than 2 s ([ingest] extract_timeout_seconds); it was stopped');
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('refuses a file whose parse needs more than extract_memory_mb', async () => {
    // A 2 MB page of text, with a 64 MB heap: pdfjs's operator lists outgrow it.
    const pdf = makePdf([Array.from({ length: 40_000 }, (_, i) => `line ${i} `.repeat(6))]);
    const err = await extractTextIsolated('heavy.pdf', pdf, { ...DEFAULT_INGEST_LIMITS, extractMemoryMb: 64, maxChars: 100_000_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedFileError);
    expect((err as Error).message).toMatch(/needed more than 64 MB \(\[ingest\] extract_memory_mb\)/);
  });

  it('passes the character cap to the child, which stops at the page that crosses it', async () => {
    const page = (n: number) => Array.from({ length: 12 }, (_, i) => `Page ${n}, line ${i}: the quick brown fox jumps.`);
    const pdf = makePdf([page(1), page(2), page(3)]);
    const err = await extractTextIsolated('caps.pdf', pdf, { ...DEFAULT_INGEST_LIMITS, maxChars: 1000 }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('longer than 1,000 characters by page 2 of 3 ([ingest] max_chars)');
  });

});
