import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { findAgent } from '../../lib/config/load.js';
import { decideApproval } from '../../lib/policy/approval-decisions.js';
import { getApproval, listApprovals, type ApprovalRow } from '../../lib/policy/approval-store.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';

const agentParams = z.object({ agent: z.string().min(1).max(63) });
const approvalParams = agentParams.extend({ id: z.string().regex(/^[A-Za-z0-9]{1,40}$/, 'approval ids are letters and digits') });
const listQuery = z
  .object({
    status: z.enum(['pending', 'approved', 'denied', 'timed_out', 'expired']).optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
  })
  .strict();
const decideBody = z.object({ by: z.string().min(1).max(200).optional() }).strict();

const toApi = (a: ApprovalRow) => ({
  id: a.id,
  agent: a.agent_id,
  worker: a.worker_id,
  channel: a.channel_id,
  platform: a.platform,
  conversation: a.conversation_id,
  tool: a.tool,
  // The whole call as it will run (the notice may show only its start), and the notice it was announced by.
  summary: a.summary,
  input: a.input ?? null,
  noticeMessageId: a.notice_message_id,
  status: a.status,
  decidedBy: a.decided_by,
  createdAt: new Date(a.created_at).toISOString(),
  expiresAt: new Date(a.expires_at).toISOString(),
  decidedAt: a.decided_at ? new Date(a.decided_at).toISOString() : null,
});

/**
 * Approvals of supervised workers (docs/security.md): list an agent's, approve or deny one. The token
 * holder is the operator; the decision is recorded as `api` unless the body names who decided.
 */
export function registerApprovalRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/agents/:agent/approvals', async (request, reply) => {
    const params = agentParams.safeParse(request.params);
    if (!params.success) return sendValidationError(reply, 'path', params.error);
    if (!findAgent(ctx.config, params.data.agent)) return sendError(reply, 404, 'not_found', `unknown agent "${params.data.agent}"`, 'agent');
    const query = listQuery.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    const rows = await listApprovals(ctx.db, params.data.agent, { ...(query.data.status ? { status: query.data.status } : {}), limit: query.data.limit ?? 100 });
    return reply.send({ approvals: rows.map(toApi) });
  });

  // One approval in full: what `spacebot approvals show` prints.
  app.get('/v1/agents/:agent/approvals/:id', async (request, reply) => {
    const params = approvalParams.safeParse(request.params);
    if (!params.success) return sendValidationError(reply, 'path', params.error);
    if (!findAgent(ctx.config, params.data.agent)) return sendError(reply, 404, 'not_found', `unknown agent "${params.data.agent}"`, 'agent');
    const row = await getApproval(ctx.db, params.data.id);
    if (!row || row.agent_id !== params.data.agent) return sendError(reply, 404, 'not_found', `agent "${params.data.agent}" has no approval "${params.data.id}"`, 'id');
    return reply.send({ approval: toApi(row) });
  });

  for (const [action, decision] of [
    ['approve', 'approved'],
    ['deny', 'denied'],
  ] as const) {
    app.post(`/v1/agents/:agent/approvals/:id/${action}`, async (request, reply) => {
      const params = approvalParams.safeParse(request.params);
      if (!params.success) return sendValidationError(reply, 'path', params.error);
      if (!findAgent(ctx.config, params.data.agent)) return sendError(reply, 404, 'not_found', `unknown agent "${params.data.agent}"`, 'agent');
      const body = decideBody.safeParse(request.body ?? {});
      if (!body.success) return sendValidationError(reply, 'body', body.error);
      const by = `api${body.data.by ? `:${body.data.by}` : ''}`;
      const outcome = await decideApproval({ config: ctx.config, db: ctx.db, temporal: ctx.temporal, logger: ctx.logger }, params.data.agent, params.data.id, decision, by);
      if (!outcome.ok) return sendError(reply, outcome.code === 'not_found' ? 404 : 409, outcome.code, outcome.message, 'id');
      return reply.send({ approval: toApi(outcome.row) });
    });
  }
}
