import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Kysely } from 'kysely';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import { AGENT, PROCESS } from '../temporal/search-attributes.js';
import { INGEST_PROCESS, ingestionWorkflowId, type IngestionInput } from '../../workflows/ingestion-contract.js';
import { getIngestStatus, registerFile, type IngestStatus, type RegisterFileInput } from './files.js';

export interface StartIngestionResult {
  status: IngestStatus;
  workflowId: string;
  /** The run started now; undefined when the same file was already being (or had been) ingested. */
  runId?: string;
  /** The same bytes were ingested (or are being ingested) already: nothing new was started. */
  duplicate: boolean;
}

/**
 * Records a file and starts its ingestion workflow `ingest:<agent>:<sha256>`, shared by the upload
 * route and the folder watcher. The workflow id is the file's identity: a running ingestion of the
 * same bytes is joined (USE_EXISTING), a completed one is not started again (ALLOW_DUPLICATE_FAILED_ONLY),
 * a failed one is started afresh.
 */
export async function startIngestion(client: Client, db: Kysely<Database>, config: SpacebotConfig, file: RegisterFileInput): Promise<StartIngestionResult> {
  const workflowId = ingestionWorkflowId(file.agentId, file.fileSha256);
  const before = await getIngestStatus(db, file.agentId, file.fileSha256);
  // A failed ingestion records its failure just before its run fails: let that run close, or the new
  // start below would join it (USE_EXISTING) and the retry would never run.
  if (before?.status === 'failed') await closed(client, workflowId);
  const status = await registerFile(db, file);
  if (status.status === 'done') return { status, workflowId, duplicate: true };
  const input: IngestionInput = { agentId: file.agentId, fileSha256: file.fileSha256, filename: status.filename, source: status.source };
  try {
    const handle = await client.workflow.start('ingestionWorkflow', {
      workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [input],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: new TypedSearchAttributes([
        { key: AGENT, value: file.agentId },
        { key: PROCESS, value: INGEST_PROCESS },
      ]),
      memo: { agent: file.agentId, process: INGEST_PROCESS, filename: status.filename, source: status.source },
      staticSummary: `Ingest ${status.filename} (${status.source}) into the memories of agent ${file.agentId}`,
    });
    // USE_EXISTING hands back the running workflow's handle: tell the caller it joined one.
    const joined = status.status === 'running' || status.chunksDone > 0;
    return { status, workflowId, runId: handle.firstExecutionRunId, duplicate: joined };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { status, workflowId, duplicate: true };
    throw err;
  }
}

/** How long a failing run may take to close before a retry is started anyway. */
const CLOSE_WAIT_MS = 10_000;

async function closed(client: Client, workflowId: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_WAIT_MS);
  });
  const result = client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => undefined,
      () => undefined, // failed (as expected) or not found: either way it is no longer running
    );
  try {
    await Promise.race([result, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
