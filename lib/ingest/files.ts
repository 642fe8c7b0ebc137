import path from 'node:path';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { AgentConfig } from '../config/types.js';
import type { Database, IngestFilesTable } from '../db/schema.js';
import { ingestionWorkflowId, type IngestSource } from '../../workflows/ingestion-contract.js';

/** Where an agent's files are dropped for ingestion, and where they go afterwards. */
export function ingestDirs(agent: AgentConfig): { inbox: string; done: string; failed: string } {
  const inbox = path.join(agent.workspace, 'ingest');
  return { inbox, done: path.join(inbox, 'done'), failed: path.join(inbox, 'failed') };
}

/** A file name as a label: no directories, no control characters, at most 255 characters. */
export function validFilename(name: string): string | undefined {
  if (!name || name.length > 255 || name === '.' || name === '..') return 'must be 1 to 255 characters';
  if (/[/\\]/.test(name)) return 'must be a file name, not a path';
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  return undefined;
}

/** An ingestion as the API shows it. */
export interface IngestStatus {
  id: string;
  agentId: string;
  filename: string;
  source: IngestSource;
  sizeBytes: number;
  workflowId: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  chunksTotal: number | null;
  chunksDone: number;
  chunksSkipped: number;
  memoriesSaved: number;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

const STATUS_COLUMNS = [
  'agent_id',
  'file_sha256',
  'filename',
  'source',
  'size_bytes',
  'workflow_id',
  'status',
  'chunks_total',
  'chunks_done',
  'chunks_skipped',
  'memories_saved',
  'error',
  'created_at',
  'updated_at',
  'finished_at',
] as const;

type StatusRow = Pick<Selectable<IngestFilesTable>, (typeof STATUS_COLUMNS)[number]>;

const iso = (d: Date | string) => new Date(d).toISOString();

function toStatus(r: StatusRow): IngestStatus {
  return {
    id: r.file_sha256,
    agentId: r.agent_id,
    filename: r.filename,
    source: r.source,
    sizeBytes: r.size_bytes,
    workflowId: r.workflow_id,
    status: r.status,
    chunksTotal: r.chunks_total,
    chunksDone: r.chunks_done,
    chunksSkipped: r.chunks_skipped,
    memoriesSaved: r.memories_saved,
    error: r.error,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    finishedAt: r.finished_at ? iso(r.finished_at) : null,
  };
}

export interface RegisterFileInput {
  agentId: string;
  fileSha256: string;
  filename: string;
  source: IngestSource;
  sizeBytes: number;
  /** The bytes of an upload; folder files stay on disk. */
  content?: Uint8Array;
}

/**
 * Records a file to ingest. The same bytes again (per agent) keep the first row, unless that
 * ingestion failed: then the row is reset for the new attempt (with the new name and bytes).
 * Returns the row as it now stands.
 */
export async function registerFile(db: Kysely<Database>, f: RegisterFileInput): Promise<IngestStatus> {
  const values = {
    agent_id: f.agentId,
    file_sha256: f.fileSha256,
    filename: f.filename,
    source: f.source,
    size_bytes: f.sizeBytes,
    content: f.content ? Buffer.from(f.content) : null,
    workflow_id: ingestionWorkflowId(f.agentId, f.fileSha256),
  };
  await db
    .insertInto('ingest_files')
    .values(values)
    .onConflict((oc) =>
      oc
        .columns(['agent_id', 'file_sha256'])
        .doUpdateSet({
          filename: values.filename,
          source: values.source,
          content: values.content,
          status: 'queued',
          // A fresh attempt: prepared again, counted from zero (chunks extracted before are not re-extracted).
          chunks_total: null,
          chunks_done: 0,
          chunks_skipped: 0,
          memories_saved: 0,
          error: null,
          finished_at: null,
          updated_at: sql`now()`,
        })
        .where('ingest_files.status', '=', 'failed'),
    )
    .execute();
  const row = await getIngestStatus(db, f.agentId, f.fileSha256);
  if (!row) throw new Error(`ingest_files row for ${f.fileSha256} vanished after insert`);
  return row;
}

/** size_bytes is an integer column; a refused file's real size is in its error text. */
const MAX_RECORDED_SIZE = 2 ** 31 - 1;

/**
 * Records a file refused before any ingestion started (over `[ingest] max_file_bytes`), so the API
 * lists it as failed with the reason. An existing row of the same bytes is left as it is.
 */
export async function registerRefusedFile(db: Kysely<Database>, f: Omit<RegisterFileInput, 'content'>, error: string): Promise<void> {
  await db
    .insertInto('ingest_files')
    .values({
      agent_id: f.agentId,
      file_sha256: f.fileSha256,
      filename: f.filename,
      source: f.source,
      size_bytes: Math.min(f.sizeBytes, MAX_RECORDED_SIZE),
      workflow_id: ingestionWorkflowId(f.agentId, f.fileSha256),
      status: 'failed',
      error,
      finished_at: sql`now()`,
    })
    .onConflict((oc) => oc.columns(['agent_id', 'file_sha256']).doNothing())
    .execute();
}

export async function getIngestStatus(db: Kysely<Database>, agentId: string, fileSha256: string): Promise<IngestStatus | null> {
  if (!/^[0-9a-f]{64}$/.test(fileSha256)) return null;
  const row = await db.selectFrom('ingest_files').select(STATUS_COLUMNS).where('agent_id', '=', agentId).where('file_sha256', '=', fileSha256).executeTakeFirst();
  return row ? toStatus(row) : null;
}

export async function listIngestStatus(db: Kysely<Database>, agentId: string, limit = 50): Promise<IngestStatus[]> {
  const rows = await db.selectFrom('ingest_files').select(STATUS_COLUMNS).where('agent_id', '=', agentId).orderBy('created_at', 'desc').orderBy('file_sha256').limit(limit).execute();
  return rows.map(toStatus);
}
