/**
 * Entry point of the child process that extracts a document's text (lib/ingest/extract-isolated.ts):
 * argv `<filename> <caps as JSON>`, the file's bytes on stdin, one JSON line on stdout:
 * `{ "text": … }`, `{ "refused": … }` (the file cannot be ingested) or `{ "error": … }` (anything else).
 * It runs apart from the server so that a hostile PDF costs this process's time and memory, not the
 * event loop that answers chat messages and /health.
 */
import { extractText, UnsupportedFileError, type ExtractCaps } from './text.js';

type ChildResult = { text: string } | { refused: string } | { error: string };

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function main(): Promise<ChildResult> {
  const [filename, capsJson] = process.argv.slice(2);
  if (!filename || !capsJson) return { error: 'usage: extract-child <filename> <caps json>' };
  const caps = JSON.parse(capsJson) as ExtractCaps;
  try {
    return { text: await extractText(filename, await readStdin(), caps) };
  } catch (err) {
    if (err instanceof UnsupportedFileError) return { refused: err.message };
    return { error: (err as Error).message };
  }
}

const result = await main();
// Exit once the answer is flushed: pdfjs may leave timers behind that would keep the process alive.
process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
