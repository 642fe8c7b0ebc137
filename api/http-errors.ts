import type { FastifyReply } from 'fastify';
import type { z } from 'zod';

/** One JSON error shape for every route: a machine code, a sentence, and the field when there is one. */
export interface ApiError {
  error: string;
  message: string;
  field?: string;
}

export function sendError(reply: FastifyReply, status: number, error: string, message: string, field?: string): FastifyReply {
  const body: ApiError = field ? { error, message, field } : { error, message };
  return reply.code(status).send(body);
}

/**
 * 400 naming the first offending field of a zod failure (`where` is "body", "query" or "path"). An
 * unknown field is named itself; a failure of the whole value (a body that is not an object) names
 * `where`, so every 400 carries a field.
 */
export function sendValidationError(reply: FastifyReply, where: string, error: z.ZodError): FastifyReply {
  const issue = error.issues[0];
  const path = issue?.path.length ? issue.path.join('.') : undefined;
  let message = issue?.message ?? 'invalid request';
  let field = path;
  if (issue?.code === 'unrecognized_keys') {
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    field = [path, issue.keys[0]].filter(Boolean).join('.');
  }
  return sendError(reply, 400, 'invalid_request', `${where}${path ? `.${path}` : ''}: ${message}`, field || where);
}
