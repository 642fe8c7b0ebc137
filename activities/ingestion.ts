import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { sql } from 'kysely';
import type { FinishIngestionInput, IngestChunkInput, IngestChunkOutcome, IngestFileRef } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { findAgent } from '../lib/config/load.js';
import type { AgentConfig } from '../lib/config/types.js';
import { budgetLimits, checkBudget } from '../lib/costs/budget.js';
import { recordLlmCall } from '../lib/costs/ledger.js';
import { CooldownRegistry } from '../lib/llm/cooldowns.js';
import { scrubSecrets } from '../lib/llm/errors.js';
import { ChainFailure } from '../lib/llm/fallback.js';
import { chunkText, sha256Hex } from '../lib/ingest/chunk.js';
import { cleanText } from '../lib/text/hygiene.js';
import { extractChunkMemories } from '../lib/ingest/extract-memories.js';
import { ingestDirs } from '../lib/ingest/files.js';
import { moveIntoFolder } from '../lib/ingest/move.js';
import { extractTextIsolated } from '../lib/ingest/extract-isolated.js';
import { expansionProblem, fileTooLarge } from '../lib/ingest/limits.js';
import { UnsupportedFileError } from '../lib/ingest/text.js';
import { ingestionWorkflowId } from '../workflows/ingestion-contract.js';

const HEARTBEAT_EVERY_MS = 2_000;
const DEADLINE_MARGIN_MS = 2_000;
/** Chunks inserted per statement when a file is prepared. */
const INSERT_BATCH = 100;

/** A problem retrying cannot fix: the workflow records it and the ingestion fails. */
function refused(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'IngestionRefused');
}

function agentOf(deps: ActivityDeps, agentId: string): AgentConfig {
  const agent = findAgent(deps.config, agentId);
  if (!agent) throw refused(`unknown agent ${agentId}: it is no longer in the configuration`);
  return agent;
}

/**
 * The ingestion workflow's activities (workflows/ingestion.ts): prepare a file into chunks, extract
 * one chunk's memories with the model, and finish (status, and the file moved to `ingest/done/`).
 */
export function makeIngestionActivities(deps: ActivityDeps) {
  const cooldowns = deps.cooldowns ?? new CooldownRegistry();
  const log = deps.logger.child({ component: 'ingestion' });

  /** Chunks of this agent's other files prepared since midnight UTC (files that failed count too: their calls may have run). */
  async function chunksPreparedToday(f: IngestFileRef): Promise<number> {
    const row = await deps.db
      .selectFrom('ingest_files')
      .select(sql<string>`coalesce(sum(chunks_total), 0)`.as('chunks'))
      .where('agent_id', '=', f.agentId)
      .where('file_sha256', '!=', f.fileSha256)
      .where('updated_at', '>=', sql<Date>`date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'`)
      .executeTakeFirst();
    return Number(row?.chunks ?? 0);
  }

  async function readSource(agent: AgentConfig, f: IngestFileRef, maxBytes: number): Promise<Uint8Array> {
    if (f.source === 'upload') {
      const row = await deps.db.selectFrom('ingest_files').select('content').where('agent_id', '=', f.agentId).where('file_sha256', '=', f.fileSha256).executeTakeFirst();
      if (!row?.content) throw refused(`the upload of ${f.filename} is no longer stored; upload it again`);
      return row.content;
    }
    const file = path.join(ingestDirs(agent).inbox, f.filename);
    try {
      // Checked before reading, so a huge file never enters memory.
      const size = (await stat(file)).size;
      if (size > maxBytes) throw refused(fileTooLarge(size, maxBytes));
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw refused(`${file} is gone; drop it into the ingest folder again`);
      throw err;
    }
  }

  return {
    /** Idempotent: a file already prepared answers with its stored chunk count without reading it again. */
    async prepareIngestion(f: IngestFileRef): Promise<{ chunksTotal: number }> {
      const agent = agentOf(deps, f.agentId);
      const known = await deps.db.selectFrom('ingest_files').select('chunks_total').where('agent_id', '=', f.agentId).where('file_sha256', '=', f.fileSha256).executeTakeFirst();
      if (!known) throw refused(`no ingest_files row for ${f.fileSha256}: start ingestions through the API or the ingest folder`);
      if (known.chunks_total !== null) return { chunksTotal: known.chunks_total };
      const limits = deps.config.ingest;
      const bytes = await readSource(agent, f, limits.maxFileBytes);
      const actual = sha256Hex(bytes);
      if (actual !== f.fileSha256) throw refused(`${f.filename} changed after it was queued (sha256 ${actual}, expected ${f.fileSha256}); drop the new version again`);
      let text: string;
      try {
        text = await extractTextIsolated(f.filename, bytes, limits, Context.current().cancellationSignal);
      } catch (err) {
        if (err instanceof UnsupportedFileError) throw refused(err.message);
        throw err;
      }
      const problem = expansionProblem(text.length, bytes.byteLength, limits);
      if (problem) throw refused(problem);
      // Files may hold NUL or broken UTF-16 that the database refuses: removed, as at every door (lib/text/hygiene.ts).
      const chunks = chunkText(cleanText(text));
      if (chunks.length > limits.maxChunksPerFile) {
        throw refused(`the text makes ${chunks.length} chunks; ingestion takes at most ${limits.maxChunksPerFile} per file ([ingest] max_chunks_per_file); split the document or raise the limit`);
      }
      const today = await chunksPreparedToday(f);
      if (today + chunks.length > limits.maxChunksPerDay) {
        throw refused(
          `agent ${f.agentId} has prepared ${today} chunks today and this file adds ${chunks.length}: more than ${limits.maxChunksPerDay} a day ([ingest] max_chunks_per_day); upload it again tomorrow (UTC) or raise the limit`,
        );
      }
      await deps.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('ingest_file_chunks').where('agent_id', '=', f.agentId).where('file_sha256', '=', f.fileSha256).execute();
        for (let i = 0; i < chunks.length; i += INSERT_BATCH) {
          const rows = chunks.slice(i, i + INSERT_BATCH).map((c) => ({ agent_id: f.agentId, file_sha256: f.fileSha256, seq: c.seq, chunk_sha256: c.sha256, content: c.text }));
          await trx.insertInto('ingest_file_chunks').values(rows).execute();
        }
        await trx
          .updateTable('ingest_files')
          .set({ chunks_total: chunks.length, status: 'running', updated_at: sql`now()` })
          .where('agent_id', '=', f.agentId)
          .where('file_sha256', '=', f.fileSha256)
          .execute();
      });
      log.info({ agent: f.agentId, file: f.filename, sha256: f.fileSha256, chars: text.length, chunks: chunks.length }, 'file prepared for ingestion');
      return { chunksTotal: chunks.length };
    },

    async ingestChunk(input: IngestChunkInput): Promise<IngestChunkOutcome> {
      const ctx = Context.current();
      const agent = agentOf(deps, input.agentId);
      const chunk = await deps.db
        .selectFrom('ingest_file_chunks')
        .select(['chunk_sha256', 'content'])
        .where('agent_id', '=', input.agentId)
        .where('file_sha256', '=', input.fileSha256)
        .where('seq', '=', input.seq)
        .executeTakeFirst();
      if (!chunk) throw refused(`chunk ${input.seq} of ${input.filename} is missing; prepare the file again`);
      const seen = await deps.db
        .selectFrom('ingest_chunks')
        .select(['file_sha256', 'seq', 'memories_saved'])
        .where('agent_id', '=', input.agentId)
        .where('chunk_sha256', '=', chunk.chunk_sha256)
        .executeTakeFirst();
      if (seen) {
        // This very chunk, done by an earlier attempt whose completion was lost (a crash after the
        // write): its result stands, without another LLM call.
        const again = seen.file_sha256 === input.fileSha256 && seen.seq === input.seq;
        const counts = again
          ? { chunksDone: input.before.chunksDone + 1, chunksSkipped: input.before.chunksSkipped, memoriesSaved: input.before.memoriesSaved + seen.memories_saved }
          : { chunksDone: input.before.chunksDone + 1, chunksSkipped: input.before.chunksSkipped + 1, memoriesSaved: input.before.memoriesSaved };
        await writeProgress(input, counts);
        // Otherwise the same text was ingested before (earlier in this file, or in another): skipped.
        return again ? { skipped: false, memoriesSaved: seen.memories_saved } : { skipped: true, memoriesSaved: 0 };
      }
      // The agent's budget caps hold for ingestion too: at a cap the ingestion stops (and fails with
      // the reason); uploading the file again later resumes it, re-extracting nothing done before.
      const limits = budgetLimits(deps.config, agent.id);
      if (limits.dailyUsd !== undefined || limits.monthlyUsd !== undefined) {
        const budget = await checkBudget(deps.db, deps.config, agent.id);
        if (!budget.allowed) throw refused(budget.message ?? `agent ${agent.id} has reached its budget`);
      }
      const started = Date.now();
      const beat = () => ctx.heartbeat({ seq: input.seq, waitingMs: Date.now() - started });
      const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
      const sourceId = ingestionWorkflowId(input.agentId, input.fileSha256);
      let outcome;
      try {
        outcome = await extractChunkMemories(
          { config: deps.config, db: deps.db, providers: deps.providers, cooldowns, embedder: deps.embedder ?? null },
          {
            agent,
            filename: input.filename,
            seq: input.seq,
            chunksTotal: input.chunksTotal,
            chunkSha256: chunk.chunk_sha256,
            text: chunk.content,
            sourceId,
            signal: ctx.cancellationSignal,
            deadline: deadlineOf(ctx.info, started),
            onAttempt: beat,
          },
        );
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw err;
        throw toFailure(err, agent, log);
      } finally {
        clearInterval(timer);
      }
      for (const call of outcome.calls) {
        await recordLlmCall(deps.db, deps.config, {
          // One row per answered call of this activity attempt: a retry is another billed call.
          callKey: `${ctx.info.workflowExecution?.runId ?? sourceId}:${ctx.info.activityId}:${ctx.info.attempt}:${call.step}`,
          agentId: input.agentId,
          channelId: sourceId,
          process: 'cortex',
          model: call.model,
          usage: call.result.usage,
          latencyMs: call.latencyMs,
          stopReason: call.result.stopReason,
        });
      }
      await deps.db
        .insertInto('ingest_chunks')
        .values({ agent_id: input.agentId, chunk_sha256: chunk.chunk_sha256, file_sha256: input.fileSha256, seq: input.seq, memories_saved: outcome.memoriesSaved })
        .onConflict((oc) => oc.columns(['agent_id', 'chunk_sha256']).doUpdateSet({ memories_saved: outcome.memoriesSaved }))
        .execute();
      await writeProgress(input, {
        chunksDone: input.before.chunksDone + 1,
        chunksSkipped: input.before.chunksSkipped,
        memoriesSaved: input.before.memoriesSaved + outcome.memoriesSaved,
      });
      log.info({ agent: input.agentId, file: input.filename, seq: input.seq, memories: outcome.memoriesSaved, calls: outcome.calls.length }, 'chunk ingested');
      return { skipped: false, memoriesSaved: outcome.memoriesSaved };
    },

    /** Idempotent: the status is written absolute, and a file already moved is not moved again. */
    async finishIngestion(input: FinishIngestionInput): Promise<void> {
      const agent = agentOf(deps, input.agentId);
      const p = input.progress;
      if (input.source === 'folder') {
        const dirs = ingestDirs(agent);
        const moved = await moveIntoFolder(path.join(dirs.inbox, input.filename), p.phase === 'done' ? dirs.done : dirs.failed);
        if (moved) log.info({ agent: input.agentId, file: input.filename, to: moved }, 'ingested file moved');
      }
      await deps.db
        .updateTable('ingest_files')
        .set({
          status: p.phase,
          chunks_done: p.chunksDone,
          chunks_skipped: p.chunksSkipped,
          memories_saved: p.memoriesSaved,
          error: p.error ?? null,
          finished_at: sql`now()`,
          updated_at: sql`now()`,
          // A finished upload's bytes are no longer needed: its chunks are stored (and ingested).
          ...(p.phase === 'done' ? { content: null } : {}),
        })
        .where('agent_id', '=', input.agentId)
        .where('file_sha256', '=', input.fileSha256)
        .execute();
      log.info({ agent: input.agentId, file: input.filename, ...p }, p.phase === 'done' ? 'ingestion finished' : 'ingestion failed');
    },
  };

  async function writeProgress(input: IngestChunkInput, counts: { chunksDone: number; chunksSkipped: number; memoriesSaved: number }): Promise<void> {
    await deps.db
      .updateTable('ingest_files')
      .set({
        status: 'running',
        chunks_total: input.chunksTotal,
        chunks_done: counts.chunksDone,
        chunks_skipped: counts.chunksSkipped,
        memories_saved: counts.memoriesSaved,
        updated_at: sql`now()`,
      })
      .where('agent_id', '=', input.agentId)
      .where('file_sha256', '=', input.fileSha256)
      // A late retry never moves the counts backwards.
      .where('chunks_done', '<=', counts.chunksDone)
      .execute();
  }
}

/** When this activity attempt must be done: start-to-close and schedule-to-close, less a margin. */
function deadlineOf(info: Context['info'], started: number): number | undefined {
  const limits: number[] = [];
  if (info.startToCloseTimeoutMs > 0) limits.push(started + info.startToCloseTimeoutMs);
  if (info.scheduleToCloseTimeoutMs > 0) limits.push(info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs);
  return limits.length ? Math.min(...limits) - DEADLINE_MARGIN_MS : undefined;
}

/** Permanent model errors (auth, bad request, nothing configured) fail the ingestion; others are retried. */
function toFailure(err: unknown, agent: AgentConfig, log: ActivityDeps['logger']): unknown {
  // Anything else (the database, the embedder) is ours: retried as it is.
  if (!(err instanceof ChainFailure)) return err;
  const message = scrubSecrets(err.error.message);
  log.warn({ agent: agent.id, kind: err.error.kind, permanent: err.permanent, attempts: err.attempts }, 'ingestion LLM call failed');
  const nextRetryDelay = err.permanent || err.retryAfterMs === undefined ? undefined : Math.min(Math.max(err.retryAfterMs + 50, 1_000), 10 * 60_000);
  return ApplicationFailure.create({ type: `IngestionLlm:${err.error.kind}`, message, nonRetryable: err.permanent, nextRetryDelay });
}
