import path from 'node:path';

/** Kinds of file ingestion reads; anything else is refused with this list in the message. */
export const INGEST_EXTENSIONS = ['.txt', '.md', '.markdown', '.pdf'] as const;

export class UnsupportedFileError extends Error {
  override name = 'UnsupportedFileError';
}

export function isSupportedFile(filename: string): boolean {
  return (INGEST_EXTENSIONS as readonly string[]).includes(path.extname(filename).toLowerCase());
}

/**
 * The text of a document: text and Markdown as UTF-8 (Markdown is kept as written: its headings and
 * lists help the model), PDF through pdfjs-dist, page by page.
 */
export async function extractText(filename: string, bytes: Uint8Array): Promise<string> {
  const ext = path.extname(filename).toLowerCase();
  if (ext === '.pdf') return pdfText(bytes);
  if (isSupportedFile(filename)) return new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
  throw new UnsupportedFileError(`cannot ingest "${filename}": supported files are ${INGEST_EXTENSIONS.join(', ')}`);
}

/** Minimal view of pdfjs' text items (the legacy build ships no types we can import cheaply). */
interface PdfTextItem {
  str?: string;
  hasEOL?: boolean;
}

async function pdfText(bytes: Uint8Array): Promise<string> {
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
    const pages: string[] = [];
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const content = await page.getTextContent();
      const text = (content.items as PdfTextItem[]).map((item) => (item.str ?? '') + (item.hasEOL ? '\n' : '')).join('');
      pages.push(text.trim());
      page.cleanup();
    }
    return pages.filter(Boolean).join('\n\n');
  } finally {
    await doc.destroy();
  }
}
