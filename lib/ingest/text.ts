import path from 'node:path';

/** Kinds of file ingestion reads; anything else is refused with this list in the message. */
export const INGEST_EXTENSIONS = ['.txt', '.md', '.markdown', '.pdf'] as const;

export class UnsupportedFileError extends Error {
  override name = 'UnsupportedFileError';
}

export function isSupportedFile(filename: string): boolean {
  return (INGEST_EXTENSIONS as readonly string[]).includes(path.extname(filename).toLowerCase());
}

/** What one extraction may produce before the file is refused (from `[ingest]`, lib/ingest/limits.ts). */
export interface ExtractCaps {
  maxPages: number;
  maxChars: number;
}

const UNCAPPED: ExtractCaps = { maxPages: Number.POSITIVE_INFINITY, maxChars: Number.POSITIVE_INFINITY };

/**
 * The text of a document: text and Markdown as UTF-8 (Markdown is kept as written: its headings and
 * lists help the model), PDF through pdfjs-dist, page by page. A document beyond `caps` is refused
 * (UnsupportedFileError) as soon as that is known: a PDF by its page count before any page is read,
 * and by its running character count after each page, so a "bomb" stops early rather than expanding.
 * Hostile input runs this in a child process with time and memory limits (extract-isolated.ts).
 */
export async function extractText(filename: string, bytes: Uint8Array, caps: ExtractCaps = UNCAPPED): Promise<string> {
  const ext = path.extname(filename).toLowerCase();
  if (ext === '.pdf') return pdfText(bytes, caps);
  if (!isSupportedFile(filename)) throw new UnsupportedFileError(`cannot ingest "${filename}": supported files are ${INGEST_EXTENSIONS.join(', ')}`);
  const text = new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
  checkChars(text.length, caps);
  return text;
}

function checkChars(chars: number, caps: ExtractCaps, soFar = ''): void {
  if (chars > caps.maxChars) {
    throw new UnsupportedFileError(`the text is longer than ${caps.maxChars.toLocaleString('en')} characters${soFar} ([ingest] max_chars); split the document or raise the limit`);
  }
}

/** Minimal view of pdfjs' text items (the legacy build ships no types we can import cheaply). */
interface PdfTextItem {
  str?: string;
  hasEOL?: boolean;
}

async function pdfText(bytes: Uint8Array, caps: ExtractCaps): Promise<string> {
  // The legacy build runs on Node without DOM globals; loaded lazily so text-only users never pay for it.
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  // pdfjs takes ownership of (and detaches) the buffer it is given: hand it a copy.
  const task = pdfjs.getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, useSystemFonts: false, disableFontFace: true, verbosity: 0 });
  let doc;
  try {
    doc = await task.promise;
  } catch (err) {
    throw new UnsupportedFileError(`cannot read the PDF: ${(err as Error).message}`);
  }
  try {
    if (doc.numPages > caps.maxPages) {
      throw new UnsupportedFileError(`the PDF has ${doc.numPages} pages; ingestion reads at most ${caps.maxPages} ([ingest] max_pages)`);
    }
    const pages: string[] = [];
    let chars = 0;
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const content = await page.getTextContent();
      const text = (content.items as PdfTextItem[]).map((item) => (item.str ?? '') + (item.hasEOL ? '\n' : '')).join('');
      pages.push(text.trim());
      page.cleanup();
      chars += text.length;
      checkChars(chars, caps, ` by page ${n} of ${doc.numPages}`);
    }
    return pages.filter(Boolean).join('\n\n');
  } finally {
    await doc.destroy();
  }
}
