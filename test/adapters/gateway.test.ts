import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ApplicationFailure } from '@temporalio/common';
import { pino } from 'pino';
import { toDeliveryFailure } from '../../activities/delivery-attempt.js';
import { PlatformError } from '../../adapters/platform-error.js';
import type { InboundEvent } from '../../adapters/inbound.js';
import { TelegramAdapter } from '../../adapters/telegram/adapter.js';
import { telegramInstanceSchema } from '../../adapters/telegram/config.js';
import type { SubmitOptions, SubmitOutcome } from '../../lib/channel/channel-client.js';
import { ConfigError, loadConfig } from '../../lib/config/load.js';
import type { SpacebotConfig } from '../../lib/config/types.js';
import { routeEvent } from '../../lib/gateway/bindings.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { eventually } from '../helpers/harness.js';
import { adapterToml, agentsToml, bindingsToml } from '../helpers/gateway.js';
import { startFakeTelegram, type FakeTelegram, type FakeUser } from '../fake-platforms/telegram/server.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-gateway-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function load(toml: string, env: NodeJS.ProcessEnv = {}): SpacebotConfig {
  const file = path.join(mkdtempSync(path.join(scratch, 'cfg-')), 'spacebot.toml');
  writeFileSync(file, toml);
  return loadConfig({ file, env, cwd: path.dirname(file) });
}

function event(partial: Partial<InboundEvent> & Pick<InboundEvent, 'kind'>, coordinates: InboundEvent['coordinates']): InboundEvent {
  return {
    instance: 'default',
    platform: partial.kind,
    conversationId: 'c1',
    messageId: 'm1',
    text: 'hi',
    sender: { id: 'u1', isBot: false },
    mentioned: true,
    receivedAt: new Date(0).toISOString(),
    ...partial,
    coordinates,
  };
}

describe('gateway configuration', () => {
  it('reads adapters, bindings and the unmatched policy', () => {
    const config = load(
      agentsToml(['main', 'support']) +
        adapterToml('telegram', 'default', { allowed_chats: [-100, 5] }) +
        adapterToml('telegram', 'ops', { enabled: false }) +
        bindingsToml([{ agent: 'support', platform: 'telegram', chat: '-100' }]) +
        '\n[gateway]\nunmatched = "ignore"\n',
    );
    expect(config.adapters).toEqual([{ kind: 'telegram', instance: 'default', platform: 'telegram', settings: expect.objectContaining({ allowed_chats: ['-100', '5'] }) }]);
    expect(config.bindings).toEqual([{ agent: 'support', platform: 'telegram', chat: '-100' }]);
    expect(config.gateway).toMatchObject({ unmatched: 'ignore', defaultAgent: 'main' });
  });

  it('names the key of every mistake', () => {
    const error = (toml: string) => {
      try {
        load(toml);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(error(adapterToml('telegram', 'default', { tokn: 'x' }))).toMatch(/adapters\.telegram\.default\.tokn/);
    expect(error(adapterToml('telegrm', 'default', {}))).toMatch(/"adapters\.telegrm"/);
    expect(error(adapterToml('telegram', 'Bad Name', {}))).toMatch(/adapters\.telegram/);
    expect(error(bindingsToml([{ agent: 'nobody', platform: 'telegram' }]))).toMatch(/bindings\.0\.agent.*unknown agent "nobody"/);
    expect(error(bindingsToml([{ agent: 'main', platform: 'irc' }]))).toMatch(/bindings\.0\.platform.*unknown platform "irc"/);
    expect(error('[gateway]\nunmatched = "drop"\n')).toMatch(/gateway\.unmatched/);
    expect(error('[gateway]\ndefault_agent = "ghost"\n')).toMatch(/gateway\.default_agent.*ghost/);
  });
});

describe('bindings', () => {
  const gateway = { unmatched: 'default_agent' as const, defaultAgent: 'main', statusIntervalMs: 5000 };
  const bindings = [
    { agent: 'ops', platform: 'discord', instance: 'work', channel: '111' },
    { agent: 'help', platform: 'discord', guild: 'g1' },
    { agent: 'dms', platform: 'slack', direct: true },
    { agent: 'tg', platform: 'telegram', chat: '-5' },
  ];

  it('takes the first match, covering threads under a bound channel', () => {
    const thread = event({ kind: 'discord', instance: 'work' }, { guildId: 'g1', channelId: '999', threadId: '999', parentChannelId: '111', isDirect: false });
    expect(routeEvent(thread, bindings, gateway)).toEqual({ agentId: 'ops', binding: 0 });
    // Another instance: the first binding does not apply; the guild binding does.
    expect(routeEvent({ ...thread, instance: 'default' }, bindings, gateway)).toEqual({ agentId: 'help', binding: 1 });
    expect(routeEvent(event({ kind: 'slack' }, { workspaceId: 'T1', channelId: 'D1', isDirect: true }), bindings, gateway).agentId).toBe('dms');
    expect(routeEvent(event({ kind: 'telegram' }, { chatId: '-5', threadId: '3', parentChannelId: '-5', isDirect: false }), bindings, gateway).agentId).toBe('tg');
  });

  it('sends unmatched events to the default agent, or ignores them', () => {
    const other = event({ kind: 'telegram' }, { chatId: '77', isDirect: true });
    expect(routeEvent(other, bindings, gateway)).toEqual({ agentId: 'main', binding: 'default' });
    expect(routeEvent(other, bindings, { ...gateway, unmatched: 'ignore' })).toEqual({ agentId: undefined, binding: 'ignored' });
  });
});

describe('gateway submission while Temporal is unreachable', () => {
  const alice: FakeUser = { id: 42, is_bot: false, first_name: 'Alice' };
  let fake: FakeTelegram;
  const gateways: Gateway[] = [];
  beforeAll(async () => {
    fake = await startFakeTelegram();
  });
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop();
  });
  afterAll(async () => {
    await fake.close();
  });

  /** A ChannelClient stand-in: down (failing like an unreachable frontend) until `up` is set. */
  function temporal() {
    const accepted: SubmitOptions[] = [];
    const state = { up: false, failures: 0 };
    const channels = {
      async submit(options: SubmitOptions): Promise<SubmitOutcome> {
        if (!state.up) {
          state.failures += 1;
          throw Object.assign(new Error('14 UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:7233'), { code: 14 });
        }
        accepted.push(options);
        return { workflowId: `channel:${options.agentId}:${options.platform}:${options.conversationId}`, runId: 'r', timedOut: false };
      },
    };
    return { accepted, state, channels };
  }

  function startGateway(channels: ReturnType<typeof temporal>['channels']) {
    const config = load(agentsToml(['main']));
    const logger = pino({ level: 'silent' });
    const adapter = new TelegramAdapter('default', telegramInstanceSchema.parse({ api_root: fake.url, poll_timeout_seconds: 1 }), logger, { TELEGRAM_BOT_TOKEN: fake.token });
    const gateway = new Gateway({ config, channels, logger, adapters: [adapter], retry: { initialMs: 20, maxMs: 100 } });
    gateways.push(gateway);
    return gateway;
  }

  it('retries until Temporal is back, then submits each message once, in order', async () => {
    const t = temporal();
    await startGateway(t.channels).start();
    const first = fake.inject({ chat: { id: 42, type: 'private' }, from: alice, text: 'one' });
    const second = fake.inject({ chat: { id: 42, type: 'private' }, from: alice, text: 'two' });
    await eventually(async () => (t.state.failures >= 3 ? true : undefined), 10_000, 'failed attempts');
    expect(t.accepted).toEqual([]);
    t.state.up = true;
    await eventually(async () => (t.accepted.length >= 2 ? true : undefined), 10_000, 'both submissions');
    expect(t.accepted.map((s) => s.message.messageId)).toEqual([String(first.messageId), String(second.messageId)]);
    expect(t.accepted[0]).toMatchObject({ agentId: 'main', platform: 'telegram', conversationId: '42', message: { text: 'one', sender: { id: '42', name: 'Alice' }, isDirect: true } });
  });

  it('loses nothing when stopped during the outage: the next gateway gets the message again', async () => {
    const down = temporal();
    const gateway = startGateway(down.channels);
    await gateway.start();
    const pending = fake.inject({ chat: { id: 42, type: 'private' }, from: alice, text: 'survive me' });
    await eventually(async () => (down.state.failures >= 1 ? true : undefined), 10_000, 'a failed attempt');
    await gateway.stop();
    const up = temporal();
    up.state.up = true;
    await startGateway(up.channels).start();
    await eventually(async () => (up.accepted.length ? true : undefined), 10_000, 'the re-delivered message');
    expect(up.accepted.map((s) => s.message.messageId)).toEqual([String(pending.messageId)]);
    expect(down.accepted).toEqual([]);
  });
});

describe('delivery failures for Temporal', () => {
  it('turns a 429 into a retry after the platform delay and a refusal into a non-retryable failure', () => {
    const limited = toDeliveryFailure(PlatformError.rateLimited('telegram', 3000, 'sendMessage failed: Too Many Requests'));
    expect(limited).toBeInstanceOf(ApplicationFailure);
    expect(limited).toMatchObject({ nextRetryDelay: 3000, nonRetryable: false, type: 'PlatformRateLimited' });
    const refused = toDeliveryFailure(PlatformError.fromStatus('telegram-support', 401, 'getMe failed: Unauthorized'));
    expect(refused).toMatchObject({ nonRetryable: true, type: 'PlatformPermanentError' });
    expect((refused as Error).message).toMatch(/delivery to telegram-support refused: .*bot token is invalid or revoked/);
    const network = new PlatformError('telegram: socket hang up', 'telegram', undefined, false);
    expect(toDeliveryFailure(network)).toBe(network);
  });
});
