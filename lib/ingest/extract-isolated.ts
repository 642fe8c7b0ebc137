import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import type { IngestLimits } from './limits.js';
import { UnsupportedFileError } from './text.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** The child's entry: the .ts source under tsx and jest, the compiled .js under dist/. */
function childCommand(): string[] {
  const source = path.join(HERE, 'extract-child.ts');
  return existsSync(source) ? ['--import', 'tsx', source] : [path.join(HERE, 'extract-child.js')];
}

/** Room for JSON escaping around the text (\uXXXX is 6 bytes for a character). */
const OUTPUT_BYTES_PER_CHAR = 6;
const OUTPUT_OVERHEAD_BYTES = 64 * 1024;
/** The tail of the child's stderr kept for the error message. */
const STDERR_KEEP_BYTES = 4096;

/**
 * Extracts a document's text in a child process with a heap limit (`[ingest] extract_memory_mb`) and a
 * time limit (`extract_timeout_seconds`), killed when either is exceeded. Parsing a PDF is synchronous
 * work that a crafted file can stretch to minutes and gigabytes; here it can neither stall the event
 * loop that serves chat and /health nor take the server's memory. A file the child refuses, or that
 * runs out of time or memory, is an UnsupportedFileError (the ingestion fails with that reason, not
 * retried); anything else (the child could not start) is an ordinary error, retried by the activity.
 */
export async function extractTextIsolated(filename: string, bytes: Uint8Array, limits: IngestLimits, signal?: AbortSignal): Promise<string> {
  const caps = { maxPages: limits.maxPages, maxChars: limits.maxChars };
  const args = [`--max-old-space-size=${limits.extractMemoryMb}`, ...childCommand(), filename, JSON.stringify(caps)];
  // Nothing of the server's environment: the child needs no keys, and must not be able to leak them.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}) };
  // From the project root, where `--import tsx` resolves (development and tests).
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const maxOutput = limits.maxChars * OUTPUT_BYTES_PER_CHAR + OUTPUT_OVERHEAD_BYTES;

  return new Promise<string>((resolve, reject) => {
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let stopped: Error | undefined;
    const stop = (why: Error) => {
      stopped ??= why;
      child.kill('SIGKILL');
    };
    const seconds = Math.round(limits.extractTimeoutMs / 1000);
    const timer = setTimeout(
      () => stop(new UnsupportedFileError(`reading the file took longer than ${seconds} s ([ingest] extract_timeout_seconds); it was stopped`)),
      limits.extractTimeoutMs,
    );
    const onAbort = () => stop(new Error('extraction cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxOutput) return stop(new UnsupportedFileError(`the text is longer than ${limits.maxChars.toLocaleString('en')} characters ([ingest] max_chars)`));
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP_BYTES);
    });
    // EPIPE when the child dies before reading everything: its exit explains why.
    child.stdin.on('error', () => undefined);
    child.stdin.end(Buffer.from(bytes));

    child.on('error', (err) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(new Error(`could not start the text extractor: ${err.message}`));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (stopped) return reject(stopped);
      if (/heap out of memory|Reached heap limit|Allocation failed/i.test(stderr)) {
        return reject(new UnsupportedFileError(`reading the file needed more than ${limits.extractMemoryMb} MB ([ingest] extract_memory_mb); it was stopped`));
      }
      const line = Buffer.concat(out).toString('utf8').trim();
      let result: { text?: string; refused?: string; error?: string } | undefined;
      try {
        result = line ? (JSON.parse(line) as typeof result) : undefined;
      } catch {
        result = undefined;
      }
      if (result?.refused !== undefined) return reject(new UnsupportedFileError(result.refused));
      if (typeof result?.text === 'string' && code === 0) return resolve(result.text);
      const detail = result?.error ?? (stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${code ?? sig}`);
      reject(new Error(`the text extractor failed: ${detail}`));
    });
  });
}
