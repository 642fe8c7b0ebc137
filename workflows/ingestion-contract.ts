import { defineQuery } from '@temporalio/workflow';

/**
 * The ingestion workflow's contract: input, progress, ids. Types and constants only (plus the query
 * definition): safe to import from workflow code, the activities, the API and the watcher.
 */

export type IngestSource = 'upload' | 'folder';

export interface IngestionInput {
  agentId: string;
  /** SHA-256 of the file's bytes (hex): the file's identity. */
  fileSha256: string;
  /** The name it was uploaded or dropped with (for folder files: its name inside `<workspace>/ingest/`). */
  filename: string;
  source: IngestSource;
  /** Set by continue-as-new: where the previous run stopped, and its counts. */
  resume?: IngestionProgress;
}

export type IngestionPhase = 'preparing' | 'extracting' | 'finishing' | 'done' | 'failed';

export interface IngestionProgress {
  phase: IngestionPhase;
  /** Known once the file is prepared. */
  chunksTotal?: number;
  /** Chunks handled: extracted, or skipped as already ingested. */
  chunksDone: number;
  chunksSkipped: number;
  memoriesSaved: number;
  error?: string;
}

export interface IngestionResult extends IngestionProgress {
  phase: 'done' | 'failed';
}

export const ingestionProgressQuery = defineQuery<IngestionProgress>('progress');

/** One workflow per agent and file content: a re-upload or re-drop of the same bytes is the same workflow. */
export function ingestionWorkflowId(agentId: string, fileSha256: string): string {
  return `ingest:${agentId}:${fileSha256}`;
}

/** The value of the SpacebotProcess search attribute of ingestion workflows. */
export const INGEST_PROCESS = 'ingest';

/** Chunks per run before the workflow continues as new (keeps histories small for big files). */
export const CHUNKS_PER_RUN = 500;
