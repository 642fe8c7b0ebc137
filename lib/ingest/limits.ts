import { z } from 'zod';

/**
 * `[ingest]` of spacebot.toml: the caps that keep one hostile file from costing hundreds of LLM calls
 * or stalling the process (docs/memory.md, "Ingestion limits"). Schema and resolution live here so the
 * config files change by a line.
 *
 * ```toml
 * [ingest]
 * max_file_bytes = 26214400     # files larger than this are refused before they are read
 * max_pages = 300               # PDFs with more pages are refused
 * max_chars = 1000000           # extracted text longer than this is refused
 * max_expansion_ratio = 100     # extracted characters per file byte beyond which a file is a "bomb"
 * max_chunks_per_file = 250     # ~4,000-character chunks: one LLM call each
 * max_chunks_per_day = 1000     # per agent, counted over the files prepared since midnight UTC
 * extract_timeout_seconds = 60  # text extraction runs in a child process, killed after this
 * extract_memory_mb = 512       # heap limit of that child process
 * ```
 */
export const ingestSchema = z
  .object({
    max_file_bytes: z.number().int().min(1024).max(1024 * 1024 * 1024).optional(),
    max_pages: z.number().int().min(1).max(100_000).optional(),
    max_chars: z.number().int().min(1000).max(100_000_000).optional(),
    max_expansion_ratio: z.number().min(1).max(100_000).optional(),
    max_chunks_per_file: z.number().int().min(1).max(1_000_000).optional(),
    max_chunks_per_day: z.number().int().min(1).max(10_000_000).optional(),
    extract_timeout_seconds: z.number().int().min(1).max(3600).optional(),
    extract_memory_mb: z.number().int().min(64).max(16_384).optional(),
  })
  .strict();

export interface IngestLimits {
  maxFileBytes: number;
  maxPages: number;
  maxChars: number;
  maxExpansionRatio: number;
  maxChunksPerFile: number;
  maxChunksPerDay: number;
  extractTimeoutMs: number;
  extractMemoryMb: number;
}

/**
 * Text of ordinary documents is a few characters per byte of file (PDF text is deflated about 3–4×);
 * the ratio is only judged above this many characters, so tiny files with a short header never trip it.
 */
export const EXPANSION_FLOOR_CHARS = 100_000;

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxFileBytes: 25 * 1024 * 1024,
  maxPages: 300,
  maxChars: 1_000_000,
  maxExpansionRatio: 100,
  maxChunksPerFile: 250,
  maxChunksPerDay: 1_000,
  extractTimeoutMs: 60_000,
  extractMemoryMb: 512,
};

export function resolveIngestLimits(cfg: z.infer<typeof ingestSchema> | undefined): IngestLimits {
  const d = DEFAULT_INGEST_LIMITS;
  return {
    maxFileBytes: cfg?.max_file_bytes ?? d.maxFileBytes,
    maxPages: cfg?.max_pages ?? d.maxPages,
    maxChars: cfg?.max_chars ?? d.maxChars,
    maxExpansionRatio: cfg?.max_expansion_ratio ?? d.maxExpansionRatio,
    maxChunksPerFile: cfg?.max_chunks_per_file ?? d.maxChunksPerFile,
    maxChunksPerDay: cfg?.max_chunks_per_day ?? d.maxChunksPerDay,
    extractTimeoutMs: (cfg?.extract_timeout_seconds ?? d.extractTimeoutMs / 1000) * 1000,
    extractMemoryMb: cfg?.extract_memory_mb ?? d.extractMemoryMb,
  };
}

const MIB = 1024 * 1024;

/** The refusal for a file over `[ingest] max_file_bytes`, shared by the API, the folder watcher and the activity. */
export function fileTooLarge(size: number, maxBytes: number): string {
  return `the file is ${(size / MIB).toFixed(1)} MB; ingestion takes at most ${(maxBytes / MIB).toFixed(1)} MB ([ingest] max_file_bytes)`;
}

/** Why a file's text is out of proportion to its size (a compression or form "bomb"), if it is. */
export function expansionProblem(chars: number, bytes: number, limits: IngestLimits): string | undefined {
  if (chars <= EXPANSION_FLOOR_CHARS || chars <= bytes * limits.maxExpansionRatio) return undefined;
  const ratio = Math.round(chars / Math.max(bytes, 1));
  return `the file's ${bytes.toLocaleString('en')} bytes expand to ${chars.toLocaleString('en')} characters (${ratio} per byte, at most ${limits.maxExpansionRatio}: [ingest] max_expansion_ratio); refused as a likely decompression bomb`;
}
