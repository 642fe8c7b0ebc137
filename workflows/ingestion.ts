import { ActivityFailure, ApplicationFailure, continueAsNew, proxyLocalActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { IngestionActivities } from '../activities/contract.js';
import { LLM_OPTIONS, STORAGE_OPTIONS } from './activity-options.js';
import { proxyActivitiesOn } from './queued-activities.js';
import { CHUNKS_PER_RUN, ingestionProgressQuery, type IngestionInput, type IngestionProgress, type IngestionResult } from './ingestion-contract.js';

/**
 * Ingests one file into the agent's memories (docs/memory.md, "Ingestion").
 *
 * 1. `prepareIngestion` reads the file (the upload's bytes from Postgres, or `<workspace>/ingest/<name>`),
 *    extracts its text, cuts it into ~4,000-character chunks on line boundaries and stores them; it is
 *    idempotent, so a retried or resumed run gets the same chunks without parsing the file again.
 * 2. `ingestChunk` per chunk, in order: a chunk whose SHA-256 the agent has already ingested is skipped;
 *    otherwise the model reads it with the `memory_save` tool and its saves are idempotent by chunk hash
 *    and call position. The workflow's own counters (query `progress`, the current details) are the
 *    source of truth; each activity writes them, absolute, to `ingest_files` for the API.
 * 3. `finishIngestion` marks the file done and moves a folder file to `ingest/done/` (idempotent).
 *
 * A crashed worker loses nothing: the workflow resumes at the chunk whose activity had not completed,
 * and that activity's retry re-saves nothing it saved before. Big files continue as new every
 * CHUNKS_PER_RUN chunks, carrying the counters.
 */

const storage = proxyLocalActivities<IngestionActivities>(STORAGE_OPTIONS);
// Reading and parsing a file: a few attempts; a refusal (unsupported file, missing file) is non-retryable.
const files = proxyActivitiesOn<IngestionActivities>('background', {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});
// Extraction is an LLM call loop: the same limits as a channel's LLM calls, on the background queue
// so a big document never delays a chat reply.
const llm = proxyActivitiesOn<IngestionActivities>('background', LLM_OPTIONS);

export async function ingestionWorkflow(input: IngestionInput): Promise<IngestionResult> {
  const progress: IngestionProgress = input.resume ? { ...input.resume } : { phase: 'preparing', chunksDone: 0, chunksSkipped: 0, memoriesSaved: 0 };
  setHandler(ingestionProgressQuery, () => ({ ...progress }));
  const show = () => setCurrentDetails(describe(input, progress));
  show();
  const file = { agentId: input.agentId, fileSha256: input.fileSha256, filename: input.filename, source: input.source };

  try {
    if (progress.chunksTotal === undefined) {
      const prepared = await files.prepareIngestion.executeWithOptions({ summary: `prepare ${input.filename}` }, [file]);
      progress.chunksTotal = prepared.chunksTotal;
    }
    const total = progress.chunksTotal;
    progress.phase = 'extracting';
    show();
    const runStart = progress.chunksDone;
    while (progress.chunksDone < total) {
      if (progress.chunksDone - runStart >= CHUNKS_PER_RUN || workflowInfo().continueAsNewSuggested) {
        return await continueAsNew<typeof ingestionWorkflow>({ ...input, resume: { ...progress } });
      }
      const seq = progress.chunksDone;
      const outcome = await llm.ingestChunk.executeWithOptions({ summary: `chunk ${seq + 1}/${total} of ${input.filename}` }, [
        { ...file, seq, chunksTotal: total, before: { chunksDone: progress.chunksDone, chunksSkipped: progress.chunksSkipped, memoriesSaved: progress.memoriesSaved } },
      ]);
      progress.chunksDone++;
      if (outcome.skipped) progress.chunksSkipped++;
      progress.memoriesSaved += outcome.memoriesSaved;
      show();
    }
    progress.phase = 'finishing';
    show();
    await files.finishIngestion.executeWithOptions({ summary: `finish ${input.filename}` }, [{ ...file, progress: { ...progress, phase: 'done' } }]);
    progress.phase = 'done';
    show();
    return { ...progress, phase: 'done' };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const message = err.cause?.message ?? err.message;
    progress.phase = 'failed';
    progress.error = message;
    show();
    await storage.finishIngestion({ ...file, progress: { ...progress, phase: 'failed' } });
    // The run fails, so the same file may be uploaded or dropped again (ALLOW_DUPLICATE_FAILED_ONLY).
    throw ApplicationFailure.nonRetryable(`ingestion of ${input.filename} failed: ${message}`, 'IngestionFailed');
  }
}

function describe(input: IngestionInput, p: IngestionProgress): string {
  const total = p.chunksTotal === undefined ? '?' : String(p.chunksTotal);
  const counts = `${p.chunksDone}/${total} chunks (${p.chunksSkipped} already ingested), ${p.memoriesSaved} memories saved`;
  return `**${input.filename}** (${input.source}) — ${p.phase}: ${counts}${p.error ? `\n\nerror: ${p.error}` : ''}`;
}
