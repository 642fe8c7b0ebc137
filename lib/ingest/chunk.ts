import { createHash } from 'node:crypto';

/** Target chunk size in characters: big enough for context, small enough for one extraction call. */
export const CHUNK_CHARS = 4_000;

export interface Chunk {
  /** 0-based position in the document. */
  seq: number;
  /** SHA-256 of the chunk's text (hex): its identity, so a chunk seen again is skipped. */
  sha256: string;
  text: string;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Splits text into chunks of about `size` characters on line boundaries: lines are packed until the
 * next one would overflow. A single line longer than `size` is cut at the last space before the
 * limit (or hard, for a line without spaces). Chunks that are only whitespace are dropped; line
 * endings are normalised to `\n` so the same document hashes the same on every system.
 */
export function chunkText(text: string, size = CHUNK_CHARS): Chunk[] {
  if (!(size > 0)) throw new Error(`chunk size must be positive, got ${size}`);
  const pieces: string[] = [];
  let current = '';
  const flush = () => {
    if (current.trim()) pieces.push(current.replace(/\s+$/, ''));
    current = '';
  };
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    for (const part of splitLongLine(line, size)) {
      const next = current ? `${current}\n${part}` : part;
      if (next.length > size && current) {
        flush();
        current = part;
      } else {
        current = next;
      }
    }
  }
  flush();
  return pieces.map((piece, seq) => ({ seq, sha256: sha256Hex(piece), text: piece }));
}

function splitLongLine(line: string, size: number): string[] {
  if (line.length <= size) return [line];
  const parts: string[] = [];
  let rest = line;
  while (rest.length > size) {
    const space = rest.lastIndexOf(' ', size);
    const cut = space > size / 2 ? space : size;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^ /, '');
  }
  if (rest) parts.push(rest);
  return parts;
}
