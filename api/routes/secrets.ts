import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { secretNameSchema } from '../../lib/secrets/names.js';
import { SecretsError, type SecretStore } from '../../lib/secrets/store.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';

const nameParams = z.object({ name: secretNameSchema }).strict();
// The value is checked by the store (size, emptiness) so the message names the secret, never echoes it.
const putBody = z.object({ value: z.string() }).strict();

/**
 * The secrets store over HTTP (docs/security.md#secrets-store). Write-only by design: no route
 * returns a value, not even to the token holder, so a leaked token or a log of responses never
 * reveals a secret; the process reads them itself at start.
 */
export function registerSecretRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const store = (reply: FastifyReply): SecretStore | undefined => {
    if (!ctx.secrets) return void sendError(reply, 503, 'unavailable', 'this API runs without the secrets store');
    return ctx.secrets;
  };
  const name = (raw: unknown, reply: FastifyReply): string | undefined => {
    const parsed = nameParams.safeParse(raw);
    if (!parsed.success) return void sendValidationError(reply, 'path', parsed.error);
    return parsed.data.name;
  };
  const refusal = (reply: FastifyReply, err: unknown) => {
    if (err instanceof SecretsError) return sendError(reply, err.code === 'invalid' ? 400 : 500, err.code === 'invalid' ? 'invalid_request' : 'secrets_key', err.message);
    throw err;
  };

  app.get('/v1/secrets', async (_request, reply) => {
    const secrets = store(reply);
    if (!secrets) return reply;
    return { secrets: (await secrets.list()).map((s) => ({ name: s.name, updatedAt: s.updatedAt.toISOString() })) };
  });

  app.put('/v1/secrets/:name', async (request, reply) => {
    const secrets = store(reply);
    const n = secrets && name(request.params, reply);
    if (!secrets || !n) return reply;
    const body = putBody.safeParse(request.body ?? {});
    if (!body.success) return sendValidationError(reply, 'body', body.error);
    try {
      const saved = await secrets.set(n, body.data.value);
      return reply.code(saved.created ? 201 : 200).send({ name: saved.name, updatedAt: saved.updatedAt.toISOString(), created: saved.created });
    } catch (err) {
      return refusal(reply, err);
    }
  });

  app.delete('/v1/secrets/:name', async (request, reply) => {
    const secrets = store(reply);
    const n = secrets && name(request.params, reply);
    if (!secrets || !n) return reply;
    if (!(await secrets.delete(n))) return sendError(reply, 404, 'not_found', `no secret ${n}`, 'name');
    return reply.code(204).send();
  });
}
