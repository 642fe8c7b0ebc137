import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './http-errors.js';

/** Checks `Authorization: Bearer <token>` in constant time. */
export function bearerAuth(token: string) {
  const expected = Buffer.from(token);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const given = Buffer.from(match?.[1]?.trim() ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendError(reply, 401, 'unauthorized', 'missing or wrong bearer token: send Authorization: Bearer <SPACEBOT_API_TOKEN>');
    }
  };
}
