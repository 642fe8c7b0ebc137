import type { Payload } from '@temporalio/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PayloadKeyError, type AesGcmPayloadCodec } from '../../lib/temporal/payload-codec.js';
import { bearerAuth } from '../auth.js';
import { limitPerAddress, limitPerToken } from '../rate-limits.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';
import { hasValidSession, sendLoginPage, sessionCookie } from './codec-session.js';

/** One history event's payloads rarely pass a few MB (Temporal refuses blobs over 2 MB by default). */
const CODEC_BODY_LIMIT = 8 * 1024 * 1024;
const MAX_PAYLOADS = 1000;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
const payloadsBody = z
  .object({
    payloads: z
      .array(z.object({ metadata: z.record(z.string(), base64).nullish(), data: base64.nullish() }))
      .max(MAX_PAYLOADS),
  })
  .strict();

/**
 * Temporal's remote codec server protocol, so the Temporal Web UI (and `temporal` CLI with
 * --codec-endpoint) can show encrypted history to the operator: POST `{payloads:[{metadata,data}]}`
 * (base64) to /v1/codec/decode or /encode, `X-Namespace` naming the namespace. Outside the /v1 auth
 * scope because browsers send CORS preflights without credentials; the POSTs themselves need the
 * bearer token or the browser session from /v1/codec/login (codec-session.ts), and CORS admits only
 * the configured Temporal UI origin.
 */
export function registerCodecRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const allowedOrigin = originOf(ctx.temporalUiUrl);
  const bearer = bearerAuth(ctx.apiToken);
  const auth = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.headers.authorization && hasValidSession(ctx.apiToken, request)) return;
    return bearer(request, reply);
  };
  void app.register(async (codec) => {
    // The /v1 limits: per address before the token check (guessing tokens is capped), per token after it.
    const perAddress = limitPerAddress(codec, ctx.config.server.limits);
    const perToken = limitPerToken(codec, ctx.config.server.limits);
    if (perAddress) codec.addHook('onRequest', perAddress);
    const authThenLimit = perToken ? [auth, perToken] : [auth];
    const bearerThenLimit = perToken ? [bearer, perToken] : [bearer];
    codec.addHook('onRequest', async (request, reply) => {
      const origin = request.headers.origin;
      if (origin && origin === allowedOrigin) {
        reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true');
      }
      reply.header('vary', 'origin');
    });
    codec.options('/v1/codec/:op', async (_request, reply) =>
      reply
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', 'authorization, content-type, x-namespace')
        .header('access-control-max-age', '600')
        .code(204)
        .send(),
    );
    const route = (op: 'encode' | 'decode') =>
      codec.post(`/v1/codec/${op}`, { bodyLimit: CODEC_BODY_LIMIT, onRequest: authThenLimit }, async (request, reply) => {
        if (!ctx.codec) return sendError(reply, 503, 'unavailable', 'this API runs without the payload codec');
        if (!namespaceOk(request, reply, ctx.config.temporal.namespace)) return reply;
        const body = payloadsBody.safeParse(request.body ?? {});
        if (!body.success) return sendValidationError(reply, 'body', body.error);
        const payloads = body.data.payloads.map(fromJson);
        const out = op === 'encode' ? await ctx.codec.encode(payloads) : await decodeEach(ctx.codec, payloads, request);
        return { payloads: out.map(toJson) };
      });
    route('encode');
    route('decode');
    codec.get('/v1/codec/login', async (_request, reply) => sendLoginPage(reply));
    codec.post('/v1/codec/session', { onRequest: bearerThenLimit }, async (request, reply) => reply.header('set-cookie', sessionCookie(ctx.apiToken, request)).code(204).send());
  });
}

/**
 * Decodes payload by payload: one the codec cannot open (a key no longer configured) comes back as
 * it was, so the UI still shows the rest of the event, and the log says which key is missing.
 */
async function decodeEach(codec: AesGcmPayloadCodec, payloads: Payload[], request: FastifyRequest): Promise<Payload[]> {
  const out: Payload[] = [];
  for (const payload of payloads) {
    try {
      out.push(...(await codec.decode([payload])));
    } catch (err) {
      if (!(err instanceof PayloadKeyError)) throw err;
      request.log.warn({ err: err.message }, 'codec endpoint: a payload could not be decoded; returned as is');
      out.push(payload);
    }
  }
  return out;
}

function namespaceOk(request: FastifyRequest, reply: FastifyReply, namespace: string): boolean {
  const given = request.headers['x-namespace'];
  if (given === undefined || given === namespace) return true;
  sendError(reply, 400, 'invalid_request', `header X-Namespace: this codec serves namespace "${namespace}"`, 'x-namespace');
  return false;
}

function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

function fromJson(p: { metadata?: Record<string, string> | null; data?: string | null }): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

function toJson(p: Payload): { metadata: Record<string, string>; data: string } {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}
