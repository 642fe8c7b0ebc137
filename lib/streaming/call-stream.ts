import type { Kysely } from 'kysely';
import type { OutboundAdapters } from '../../adapters/outbound.js';
import { WEBHOOK_PLATFORM } from '../../workflows/platforms.js';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import type { CompletionResult, StreamDelta } from '../llm/types.js';
import type { Logger } from '../logger.js';
import type { StreamBus } from './bus.js';
import { DeltaRouter, deliveredKeys } from './delivery-deltas.js';
import { ReplyStream, canEdit } from './reply-stream.js';
import { leakGuardOf, type LeakGuard } from '../security/leak-guard.js';
import { RedactingRouter } from './redacting-router.js';

/** What a channel's model call needs to stream: where the answer goes. */
export interface CallStreamTarget {
  agentId: string;
  channelId: string;
  turnSeq: number;
  step: number;
  /** Only channel calls speak to the user; branches and workers never stream. */
  process?: string;
  platform?: string;
  conversationId?: string;
  replyTo?: string;
}

export interface CallStreamDeps {
  config: SpacebotConfig;
  db: Kysely<Database>;
  outbound: OutboundAdapters;
  logger: Logger;
  streams?: StreamBus;
  /** Redacts secrets from what is streamed; absent: built from the config (lib/security/leak-guard.ts). */
  leakGuard?: LeakGuard;
}

/**
 * The consumer side of one streamed model call: hand `onDelta` and `onReset` to the fallback chain,
 * then `finish` with the answer before returning it to the workflow.
 */
export interface CallStream {
  onDelta(delta: StreamDelta): void;
  onReset(reason: string): void;
  finish(result: Pick<CompletionResult, 'text' | 'toolCalls'>): Promise<void>;
}

/**
 * Opens the stream of one callModel attempt, or returns undefined when this call does not stream:
 * the agent turned streaming off, it is not a channel call, or its platform can neither edit messages
 * nor is the webhook (whose clients listen on the SSE route). `attempt` > 1 is a retried activity:
 * what an earlier attempt showed is void. `hooks.onShown` runs once the answer first shows on the
 * platform (a draft posted or taken over).
 */
export async function openCallStream(deps: CallStreamDeps, target: CallStreamTarget, attempt: number, hooks: { onShown?: () => void } = {}): Promise<CallStream | undefined> {
  const agent = deps.config.agents.find((a) => a.id === target.agentId);
  if (agent?.streaming === false) return undefined;
  if ((target.process ?? 'channel') !== 'channel' || !target.platform || !target.conversationId) return undefined;
  const where = { channelId: target.channelId, turn: target.turnSeq, step: target.step };
  // Every streamed piece passes the leak guard per delivery key, with the tail that could still be
  // the start of a secret held back, so a key split across deltas is never shown in part.
  const router = new RedactingRouter(new DeltaRouter(), leakGuardOf(deps), (kinds) =>
    deps.logger.warn({ channelId: target.channelId, platform: target.platform, kinds }, 'a streamed reply held secrets; shown redacted'),
  );

  if (target.platform === WEBHOOK_PLATFORM) {
    const bus = deps.streams;
    if (!bus) return undefined;
    if (attempt > 1) bus.publish({ type: 'reset', ...where, reason: `the model call is retried (attempt ${attempt})` });
    return {
      onDelta(delta) {
        const keyed = router.route(delta);
        if (keyed) bus.publish({ type: 'delta', ...where, ...keyed });
      },
      onReset(reason) {
        router.reset();
        bus.publish({ type: 'reset', ...where, reason });
      },
      async finish() {
        for (const keyed of router.flush()) bus.publish({ type: 'delta', ...where, ...keyed });
      },
    };
  }

  const adapter = deps.outbound.get(target.platform);
  if (!canEdit(adapter)) return undefined;
  const position = { channelId: target.channelId, turnSeq: target.turnSeq, step: target.step, platform: target.platform, conversationId: target.conversationId };
  const replies = new ReplyStream({ adapter, db: deps.db, position, logger: deps.logger, generation: attempt, replyTo: target.replyTo, onShown: hooks.onShown });
  await replies.start();
  return {
    onDelta(delta) {
      const keyed = router.route(delta);
      if (keyed) replies.push(keyed.key, keyed.text);
    },
    onReset() {
      router.reset();
      replies.reset();
    },
    finish: (result) => {
      for (const keyed of router.flush()) replies.push(keyed.key, keyed.text);
      return replies.finish(deliveredKeys(result));
    },
  };
}
