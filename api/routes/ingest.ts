import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { findAgent } from '../../lib/config/load.js';
import { sha256Hex } from '../../lib/ingest/chunk.js';
import { getIngestStatus, listIngestStatus, validFilename, type IngestStatus } from '../../lib/ingest/files.js';
import { fileTooLarge } from '../../lib/ingest/limits.js';
import { startIngestion } from '../../lib/ingest/start.js';
import { INGEST_EXTENSIONS, isSupportedFile } from '../../lib/ingest/text.js';
import { temporalUiLink } from '../../lib/channel/channel-client.js';
import { ingestionProgressQuery, type IngestionProgress } from '../../workflows/ingestion-contract.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';

/** Raw bodies taken as the file's bytes (the file name comes from the `x-filename` header). */
const RAW_TYPES = ['application/octet-stream', 'application/pdf', 'text/markdown'];
const FILENAME_HEADER = 'x-filename';

const agentParams = z.object({ agent: z.string() }).strict();
const idParams = z.object({ agent: z.string(), id: z.string() }).strict();
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }).strict();

const filename = z.string().superRefine((name, ctx) => {
  const problem = validFilename(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
  else if (!isSupportedFile(name)) ctx.addIssue({ code: 'custom', message: `must end in ${INGEST_EXTENSIONS.join(', ')}` });
});

const jsonBody = z
  .object({
    filename,
    content: z.string().min(1, 'must not be empty'),
    /** text (default for .txt/.md) or base64 (default for .pdf, which is binary). */
    encoding: z.enum(['text', 'base64']).optional(),
  })
  .strict();

/**
 * Ingestion of documents into memories (docs/memory.md, "Ingestion"):
 * - `POST /v1/agents/:agent/ingest` with JSON `{ filename, content, encoding? }` (content as text, or
 *   base64 for PDFs), or the raw bytes as application/octet-stream (application/pdf, text/plain,
 *   text/markdown) with the name in an `x-filename` header. Bodies over `server.body_limit_bytes` get
 *   413. 202 `{ ingestion, workflowId, temporalUiUrl, duplicate }`; 200 when these bytes were already
 *   ingested (nothing is started again).
 * - `GET /v1/agents/:agent/ingest`: the agent's ingestions, newest first.
 * - `GET /v1/agents/:agent/ingest/:id`: one ingestion (id = SHA-256 of the file), with the running
 *   workflow's live progress when it answers.
 */
export function registerIngestRoutes(parent: FastifyInstance, ctx: ApiContext): void {
  // A plugin of its own (inheriting the /v1 auth hook), so the raw-body parsers below apply to these
  // routes only; raw bodies are read as buffers under the same body limit as JSON.
  parent.register(async (app) => ingestRoutes(app, ctx));
}

function ingestRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const base = '/v1/agents/:agent/ingest';
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: ctx.config.server.bodyLimitBytes }, (_req, body, done) => done(null, body));

  const agentOf = (raw: unknown, reply: FastifyReply): string | undefined => {
    const parsed = agentParams.safeParse(raw);
    if (!parsed.success) return void sendValidationError(reply, 'path', parsed.error);
    if (!findAgent(ctx.config, parsed.data.agent)) return void sendError(reply, 404, 'not_found', `unknown agent "${parsed.data.agent}"`, 'agent');
    return parsed.data.agent;
  };
  const link = (workflowId: string) => temporalUiLink(ctx.temporalUiUrl, ctx.config.temporal.namespace, workflowId);

  app.post(base, async (request, reply) => {
    const agent = agentOf(request.params, reply);
    if (!agent) return reply;
    const file = readUpload(request, reply);
    if (!file) return reply;
    const maxBytes = ctx.config.ingest.maxFileBytes;
    if (file.bytes.byteLength > maxBytes) return sendError(reply, 413, 'payload_too_large', fileTooLarge(file.bytes.byteLength, maxBytes), 'content');
    const started = await startIngestion(ctx.temporal, ctx.db, ctx.config, {
      agentId: agent,
      fileSha256: sha256Hex(file.bytes),
      filename: file.name,
      source: 'upload',
      sizeBytes: file.bytes.byteLength,
      content: file.bytes,
    });
    request.log.info({ agent, file: file.name, bytes: file.bytes.byteLength, duplicate: started.duplicate }, 'ingestion requested');
    return reply.code(started.status.status === 'done' ? 200 : 202).send({
      ingestion: started.status,
      workflowId: started.workflowId,
      temporalUiUrl: link(started.workflowId),
      duplicate: started.duplicate,
    });
  });

  app.get(base, async (request, reply) => {
    const agent = agentOf(request.params, reply);
    if (!agent) return reply;
    const query = listQuery.safeParse(request.query ?? {});
    if (!query.success) return sendValidationError(reply, 'query', query.error);
    return reply.send({ ingestions: await listIngestStatus(ctx.db, agent, query.data.limit) });
  });

  app.get(`${base}/:id`, async (request, reply) => {
    const parsed = idParams.safeParse(request.params);
    if (!parsed.success) return sendValidationError(reply, 'path', parsed.error);
    const agent = agentOf({ agent: parsed.data.agent }, reply);
    if (!agent) return reply;
    const status = await getIngestStatus(ctx.db, agent, parsed.data.id);
    if (!status) return sendError(reply, 404, 'not_found', `no ingestion "${parsed.data.id}" (ids are the SHA-256 of the file)`, 'id');
    return reply.send({ ingestion: status, progress: await liveProgress(status), temporalUiUrl: link(status.workflowId) });
  });

  /** The running workflow's own counters (fresher than the table); null once it is closed or unreachable. */
  async function liveProgress(status: IngestStatus): Promise<IngestionProgress | null> {
    if (status.status === 'done' || status.status === 'failed') return null;
    try {
      return await ctx.temporal.workflow.getHandle(status.workflowId).query(ingestionProgressQuery);
    } catch {
      return null;
    }
  }

  function readUpload(request: FastifyRequest, reply: FastifyReply): { name: string; bytes: Uint8Array } | undefined {
    const isJson = /\bjson\b/.test(request.headers['content-type'] ?? '');
    if (!isJson && (Buffer.isBuffer(request.body) || typeof request.body === 'string')) {
      const header = request.headers[FILENAME_HEADER];
      const name = filename.safeParse(Array.isArray(header) ? header[0] : header);
      if (!name.success) {
        const problem = name.error.issues[0]?.message ?? 'missing';
        return void sendError(reply, 400, 'invalid_request', `header ${FILENAME_HEADER}: ${header === undefined ? 'name the file in this header' : problem}`, FILENAME_HEADER);
      }
      const bytes = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body;
      if (bytes.byteLength === 0) return void sendError(reply, 400, 'invalid_request', 'body: the file is empty', 'content');
      return { name: name.data, bytes };
    }
    const body = jsonBody.safeParse(request.body ?? {});
    if (!body.success) return void sendValidationError(reply, 'body', body.error);
    const encoding = body.data.encoding ?? (body.data.filename.toLowerCase().endsWith('.pdf') ? 'base64' : 'text');
    if (encoding === 'base64' && !/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(body.data.content)) {
      return void sendError(reply, 400, 'invalid_request', 'body.content: not valid base64 (PDFs are sent base64-encoded)', 'content');
    }
    return { name: body.data.filename, bytes: encoding === 'base64' ? Buffer.from(body.data.content, 'base64') : Buffer.from(body.data.content, 'utf8') };
  }
}
