import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { strongApiToken } from '../lib/runtime/api-token.js';
import { sendError } from './http-errors.js';

/**
 * A check of `Authorization: Bearer <token>` against `token`. Both sides are hashed with SHA-256 and
 * the digests compared with timingSafeEqual: digests are always 32 bytes, so there is no length check
 * to leak the token's length or to let two empty values compare equal. Refuses (ApiTokenError) to
 * guard anything with a token shorter than MIN_API_TOKEN_LENGTH: authentication fails closed.
 */
export function tokenMatcher(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(strongApiToken(token, 'the API configuration', 'pass the token resolveApiToken returns'));
  return (authorization) => {
    const given = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();
    return given !== undefined && timingSafeEqual(digest(given), expected);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** onRequest hook: 401 unless the request carries the bearer token. */
export function bearerAuth(token: string) {
  const matches = tokenMatcher(token);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!matches(request.headers.authorization)) {
      return sendError(reply, 401, 'unauthorized', 'missing or wrong bearer token: send Authorization: Bearer <SPACEBOT_API_TOKEN>');
    }
  };
}
