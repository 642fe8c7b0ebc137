import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ApiLimits } from '../lib/config/api-limits.js';
import type { Database } from '../lib/db/schema.js';
import type { Logger } from '../lib/logger.js';
import { sendError } from './http-errors.js';
import { postgresRateLimitStore } from './postgres-rate-limit-store.js';

const MINUTE_MS = 60_000;

type Limiter = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/**
 * Loads @fastify/rate-limit without a global hook: the limits below run as hooks of the /v1 scope in
 * the order that matters (address before the token check, so guessing tokens is capped too; token
 * after it). The counters live in Postgres (api/postgres-rate-limit-store.ts), so every API process
 * on one database shares one budget per token and per address.
 */
export function registerRateLimitPlugin(app: FastifyInstance, deps: { db: Kysely<Database>; logger: Logger }): void {
  // Registered on `app` itself (the plugin is not encapsulated), so scopes registered after it see createRateLimit.
  app.register(rateLimit, { global: false, store: postgresRateLimitStore(deps.db, deps.logger) });
}

/** Requests per minute per client address (`request.ip`: the socket's peer unless a proxy is trusted). */
export function limitPerAddress(app: FastifyInstance, limits: ApiLimits): Limiter | undefined {
  if (limits.ratePerAddressPerMinute === 0) return undefined;
  const check = app.createRateLimit({ max: limits.ratePerAddressPerMinute, timeWindow: MINUTE_MS, keyGenerator: (req) => `address:${req.ip}` });
  return async (request, reply) => refuseIfExceeded(await check(request), reply, 'this client address');
}

/** Requests per minute per bearer token (keyed by a hash: the token itself is never stored, in memory or in the database). */
export function limitPerToken(app: FastifyInstance, limits: ApiLimits): Limiter | undefined {
  if (limits.ratePerTokenPerMinute === 0) return undefined;
  const check = app.createRateLimit({ max: limits.ratePerTokenPerMinute, timeWindow: MINUTE_MS, keyGenerator: (req) => `token:${tokenKey(req)}` });
  return async (request, reply) => refuseIfExceeded(await check(request), reply, 'this API token');
}

/**
 * The token as auth.ts reads it (scheme case-insensitive, any spacing, trimmed): `Bearer X` and
 * `bearer  X` are one token, so they share one budget instead of doubling it. A header that is not a
 * bearer token keys on the empty token (one budget for all of them).
 */
function tokenKey(request: FastifyRequest): string {
  const token = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim() ?? '';
  return createHash('sha256').update(token, 'utf8').digest('base64url').slice(0, 22);
}

type CheckResult = Awaited<ReturnType<ReturnType<FastifyInstance['createRateLimit']>>>;

function refuseIfExceeded(result: CheckResult, reply: FastifyReply, who: string): FastifyReply | undefined {
  if (result.isAllowed) return undefined;
  reply.header('x-ratelimit-limit', result.max);
  reply.header('x-ratelimit-remaining', result.remaining);
  reply.header('x-ratelimit-reset', result.ttlInSeconds);
  if (!result.isExceeded) return undefined;
  return sendTooMany(reply, result.ttlInSeconds, `more than ${result.max} requests a minute from ${who}; retry in ${result.ttlInSeconds} s`);
}

/** 429 with Retry-After (seconds), the one shape of every "slow down" the API answers. */
export function sendTooMany(reply: FastifyReply, retryAfterSeconds: number, message: string, field?: string): FastifyReply {
  reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  return sendError(reply, 429, 'rate_limited', message, field);
}
