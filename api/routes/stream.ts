import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { WEBHOOK_PLATFORM } from '../../adapters/webhook.js';
import { findAgent } from '../../lib/config/load.js';
import type { StreamBus, StreamEvent } from '../../lib/streaming/bus.js';
import { channelWorkflowId, EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE } from '../../workflows/channel-contract.js';
import type { ApiContext } from '../context.js';
import { sendError, sendValidationError } from '../http-errors.js';
import { BoundedSlots } from '../bounded-slots.js';
import { sendTooMany } from '../rate-limits.js';

/** What buildApi needs beyond ApiContext for this route: the bus the worker publishes to. */
export interface StreamApiContext {
  streams?: StreamBus;
}

/** A comment line often enough that proxies and clients do not drop an idle stream. */
const KEEP_ALIVE_MS = 15_000;

const paramsSchema = z.object({
  agent: z.string(),
  conversation: z.string().regex(EXTERNAL_ID_PATTERN, `conversation ids ${EXTERNAL_ID_RULE}`),
});

/** The event as a client sees it: the conversation is in the URL already. */
function wire(event: StreamEvent): Record<string, unknown> {
  const { channelId: _channelId, type: _type, ...rest } = event;
  return rest;
}

/**
 * `GET /v1/agents/:agent/conversations/:conversation/messages/stream`: Server-Sent Events for clients
 * of the webhook adapter that want answers as they are written. Events: `ready` once subscribed,
 * then per model call `delta` { turn, step, key, text }, `reset` { turn, step, reason } (forget what
 * this step showed: the call is retried or fell back) and per reply `done` { turn, step, key,
 * messageId, text, kind } (the final text, as in the transcript). Nothing is replayed: the transcript
 * (`GET .../messages`) is the record, the stream only shows what happens while connected.
 */
export function registerStreamRoutes(app: FastifyInstance, ctx: ApiContext & StreamApiContext): void {
  const open = new Set<ServerResponse>();
  // Each stream holds a socket, a bus subscription and a timer for as long as the client likes: cap them.
  const slots = new BoundedSlots(ctx.config.server.limits.maxSseStreams);
  // Open streams would keep app.close() waiting for ever: end them when the server stops.
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  app.get('/v1/agents/:agent/conversations/:conversation/messages/stream', async (request, reply) => {
    const parsed = paramsSchema.safeParse(request.params);
    if (!parsed.success) return sendValidationError(reply, 'path', parsed.error);
    const { agent, conversation } = parsed.data;
    if (!findAgent(ctx.config, agent)) return sendError(reply, 404, 'not_found', `unknown agent "${agent}"`, 'agent');
    const bus = ctx.streams;
    if (!bus) return sendError(reply, 503, 'unavailable', 'streaming is not wired into this API process (no stream bus); poll GET .../messages instead');
    const channelId = channelWorkflowId({ agentId: agent, platform: WEBHOOK_PLATFORM, conversationId: conversation });
    const release = slots.take();
    if (!release) return sendTooMany(reply, KEEP_ALIVE_MS / 1000, `${slots.limit} streams are open already (server.max_sse_streams); close one or poll GET .../messages`);

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    let id = 0;
    const send = (event: string, data: unknown) => {
      if (!res.writableEnded) res.write(`id: ${++id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    open.add(res);
    let unsubscribe: (() => void) | undefined;
    const keepAlive = setInterval(() => !res.writableEnded && res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    const cleanup = () => {
      release();
      clearInterval(keepAlive);
      open.delete(res);
      unsubscribe?.();
    };
    res.on('close', cleanup);
    try {
      unsubscribe = await bus.subscribe(channelId, (event) => send(event.type, wire(event)));
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, 'stream subscription failed');
      send('error', { error: 'unavailable', message: 'the stream could not be subscribed; poll GET .../messages instead' });
      res.end();
      return;
    }
    if (res.writableEnded || res.destroyed) return cleanup();
    send('ready', { workflowId: channelId });
  });
}
