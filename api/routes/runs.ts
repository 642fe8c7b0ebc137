import { messageTexts } from '../../lib/channel/inbound-bodies.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listRuns } from '../../lib/runs/list.js';
import { parseRunStatus, RUN_STATUSES } from '../../lib/runs/query.js';
import { getRunDetail } from '../../lib/runs/run-detail.js';
import { leakGuardOf } from '../../lib/security/leak-guard.js';
import { EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE } from '../../workflows/channel-contract.js';
import { replayRunInChildProcess } from '../../lib/replay/replay-process.js';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';
import { BoundedSlots } from '../bounded-slots.js';
import { sendTooMany } from '../rate-limits.js';

/** A replay takes seconds: what a client turned away is told to wait. */
const REPLAY_RETRY_AFTER_SECONDS = 10;

const listQuerySchema = z
  .object({
    agent: z.string().regex(EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE).optional(),
    conversation: z.string().regex(EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE).optional(),
    type: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'a process (e.g. channel) or workflow type (e.g. channelWorkflow)').optional(),
    status: z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (value === undefined) return undefined;
        const status = parseRunStatus(value);
        if (!status) ctx.addIssue({ code: 'custom', message: `unknown status "${value.slice(0, 40)}"; one of ${Object.keys(RUN_STATUSES).join(', ')}` });
        return status;
      }),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

// Workflow ids are free-form in Temporal; refuse only what cannot be one of ours or is absurdly long.
const detailParamsSchema = z.object({ workflowId: z.string().min(1).max(1000).regex(/^[^\p{Cc}]+$/u, 'must not contain control characters') });
const detailQuerySchema = z
  .object({ runId: z.string().regex(/^[0-9a-fA-F-]{36}$/, 'must be a run id (a UUID)').optional() })
  .strict();

/** Workflow runs from Temporal's visibility API, and one run's history as a timeline. */
export function registerRunRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const ui = () => ({ temporalUiUrl: ctx.temporalUiUrl, namespace: ctx.config.temporal.namespace });
  // A replay runs in a child process of 120–270 MB: a small semaphore, and 429 past it rather than a queue
  // of processes the machine cannot hold.
  const replays = new BoundedSlots(ctx.config.server.limits.maxConcurrentReplays);

  app.get('/v1/runs', async (request, reply) => {
    const query = listQuerySchema.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    const { limit, ...filters } = query.data;
    const runs = await listRuns(ctx.temporal, filters, limit ?? 50, ui());
    return reply.send({ runs });
  });

  app.get('/v1/runs/:workflowId', async (request, reply) => {
    const params = detailParamsSchema.safeParse(request.params);
    if (!params.success) return sendValidationError(reply, 'path', params.error);
    const query = detailQuerySchema.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    const { workflowId } = params.data;
    const detail = await getRunDetail(ctx.temporal, workflowId, query.data.runId, ui(), leakGuardOf(ctx), (ids) => messageTexts(ctx.db, workflowId, ids));
    if (!detail) {
      const what = query.data.runId ? `run ${query.data.runId} of workflow "${workflowId}"` : `workflow "${workflowId}"`;
      return sendError(reply, 404, 'not_found', `no ${what}`, query.data.runId ? 'runId' : 'workflowId');
    }
    return reply.send(detail);
  });

  /**
   * Replays one run's history against the workflow code this process runs, so an operator can check
   * a deploy before rolling it out. 200 with `ok: false` and the error when the code is not
   * deterministic for that run.
   */
  app.post('/v1/runs/:workflowId/replay', async (request, reply) => {
    const params = detailParamsSchema.safeParse(request.params);
    if (!params.success) return sendValidationError(reply, 'path', params.error);
    const query = detailQuerySchema.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    const { workflowId } = params.data;
    const release = replays.take();
    if (!release) return sendTooMany(reply, REPLAY_RETRY_AFTER_SECONDS, `${replays.limit} replays are running already (server.max_concurrent_replays); retry when one has finished`);
    try {
      const handle = ctx.temporal.workflow.getHandle(workflowId, query.data.runId);
      let runId: string;
      try {
        runId = (await handle.describe()).runId;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        return sendError(reply, 404, 'not_found', `no workflow "${workflowId}"${query.data.runId ? ` with run ${query.data.runId}` : ''}`, query.data.runId ? 'runId' : 'workflowId');
      }
      const outcome = await replayRunInChildProcess({ address: ctx.temporalAddress, namespace: ctx.config.temporal.namespace, workflowId, runId });
      return reply.send({ workflowId, runId, ok: outcome.ok, skipped: outcome.skipped ?? false, errorName: outcome.errorName, error: outcome.error });
    } finally {
      release();
    }
  });
}
