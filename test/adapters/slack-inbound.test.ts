import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { InboundEvent } from '../../adapters/inbound.js';
import { SlackAdapter } from '../../adapters/slack/adapter.js';
import { slackInstanceSchema, type SlackInstanceInput } from '../../adapters/slack/config.js';
import { eventually } from '../helpers/harness.js';
import { freePorts } from '../helpers/ports.js';
import { postSignedEvent, signSlackRequest, startFakeSlack, type FakeSlack } from '../fake-platforms/slack/server.js';

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** A sink that records events; `hold()` makes it wait, `failNext()` makes it throw once. */
function recordingSink() {
  const events: InboundEvent[] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let failures = 0;
  let entered = 0;
  return {
    events,
    /** Hand-offs started (including held and failed ones). */
    entered: () => entered,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      open?.();
      gate = undefined;
    },
    failNext() {
      failures += 1;
    },
    sink: async (event: InboundEvent) => {
      entered += 1;
      if (gate) await gate;
      if (failures > 0) {
        failures -= 1;
        throw new Error('channel workflow unavailable');
      }
      events.push(event);
    },
  };
}

describe('Slack inbound over Socket Mode against the fake', () => {
  let fake: FakeSlack;
  const running: SlackAdapter[] = [];
  let log: ReturnType<typeof capturingLogger>;

  async function connect(overrides: Partial<SlackInstanceInput> = {}, instance = 'default') {
    log = capturingLogger();
    const adapter = new SlackAdapter(
      instance,
      slackInstanceSchema.parse({ bot_token: fake.botToken, app_token: fake.appToken, api_url: fake.apiUrl, ping_timeout_ms: 1000, ...overrides }),
      log.logger,
      {},
    );
    running.push(adapter);
    const recorder = recordingSink();
    await adapter.start(recorder.sink);
    return { adapter, ...recorder };
  }

  const acked = (envelopeId: string) => eventually(async () => (fake.acks.has(envelopeId) ? true : undefined), 10_000, `ack of ${envelopeId}`);

  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterEach(async () => {
    for (const adapter of running.splice(0)) await adapter.stop();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('connects, and hands on a mention as an InboundEvent before acknowledging the envelope', async () => {
    const { adapter, events, hold, release, entered } = await connect();
    expect(adapter.status()).toMatchObject({ kind: 'slack', instance: 'default', state: 'connected', botUser: 'spacebot' });
    expect(fake.calls.find((c) => c.method === 'apps.connections.open')?.token).toBe(fake.appToken);

    hold();
    const sent = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> what's &lt;new&gt;?` });
    // The hand-off is held: the envelope stays unacknowledged, so Slack would redeliver it. A later
    // (filtered) envelope's ack proves the socket is live: an early ack would have arrived before it.
    await eventually(async () => (entered() === 1 ? true : undefined), 10_000, 'the hand-off to start');
    const later = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: 'no mention, filtered' });
    await acked(later.envelopeId);
    expect(fake.acks.has(sent.envelopeId)).toBe(false);
    release();
    await acked(sent.envelopeId);

    expect(events).toEqual([
      {
        kind: 'slack',
        instance: 'default',
        platform: 'slack',
        conversationId: 'C0GENERAL',
        messageId: sent.ts,
        text: "what's <new>?",
        sender: { id: 'U0ALICE', name: undefined, isBot: false },
        mentioned: true,
        coordinates: { workspaceId: fake.teamId, channelId: 'C0GENERAL', threadId: undefined, parentChannelId: undefined, isDirect: false },
        receivedAt: expect.any(String),
      },
    ]);
  });

  it('maps threads to <channel>.<thread_ts> with the parent channel, and DMs without a mention', async () => {
    const { events } = await connect({}, 'work');
    const thread = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', threadTs: '1700000000.000001', text: `<@${fake.botUserId}> in a thread` });
    const dm = fake.sendMessage({ channel: 'D0ALICE', user: 'U0ALICE', text: 'hello bot' });
    await acked(thread.envelopeId);
    await acked(dm.envelopeId);

    const byText = Object.fromEntries(events.map((e) => [e.text, e]));
    expect(byText['in a thread']).toMatchObject({
      platform: 'slack-work',
      conversationId: 'C0GENERAL.1700000000.000001',
      messageId: thread.ts,
      coordinates: { channelId: 'C0GENERAL', threadId: '1700000000.000001', parentChannelId: 'C0GENERAL', isDirect: false },
    });
    expect(byText['hello bot']).toMatchObject({ conversationId: 'D0ALICE', mentioned: true, coordinates: { channelId: 'D0ALICE', isDirect: true } });
  });

  it('filters: bots, itself, edits and joins, other workspaces and channels, DMs outside the allowlist, no mention', async () => {
    const { events } = await connect({ allowed_workspaces: ['T0FAKE'], allowed_channels: ['C0GENERAL'], dm_allowlist: ['U0ALICE'] });
    const mention = `<@${fake.botUserId}>`;
    const ignored = [
      fake.sendMessage({ channel: 'C0GENERAL', botId: 'B0OTHER', subtype: 'bot_message', text: `${mention} from a bot` }),
      fake.sendMessage({ channel: 'C0GENERAL', botId: 'B0OTHER', user: 'U0OTHERBOT', text: `${mention} bot with a user` }),
      fake.sendMessage({ channel: 'C0GENERAL', user: fake.botUserId, text: `${mention} myself` }),
      fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', subtype: 'message_changed', text: `${mention} edited` }),
      fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', subtype: 'channel_join', text: `${mention} joined` }),
      fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', teamId: 'T0OTHER', text: `${mention} other workspace` }),
      fake.sendMessage({ channel: 'C0RANDOM', user: 'U0ALICE', text: `${mention} other channel` }),
      fake.sendMessage({ channel: 'D0BOB', user: 'U0BOB', text: 'dm from bob' }),
      fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: 'no mention' }),
    ];
    const accepted = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: `${mention} accepted` });
    // Filtered events are acknowledged too: Slack must not redeliver them.
    for (const { envelopeId } of [...ignored, accepted]) await acked(envelopeId);
    expect(events.map((e) => e.text)).toEqual(['accepted']);
  });

  it('accepts follow-ups in a thread the bot is part of without a new mention, when mentions are required', async () => {
    const { events } = await connect();
    const root = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> start` });
    await acked(root.envelopeId);
    const followUp = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', threadTs: root.ts, text: 'and then?' });
    const underBot = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0BOB', threadTs: '1600000000.000009', parentUserId: fake.botUserId, text: 'replying to the bot' });
    const stranger = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0BOB', threadTs: '1600000000.000010', text: 'unrelated thread' });
    for (const { envelopeId } of [followUp, underBot, stranger]) await acked(envelopeId);
    expect(events.map((e) => e.text).sort()).toEqual(['and then?', 'replying to the bot', 'start']);
  });

  it('hands on a message once when Slack sends both message and app_mention, or resends an acknowledged envelope', async () => {
    const { events } = await connect();
    const sent = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> once` });
    const mention = fake.sendMessage({ type: 'app_mention', channel: 'C0GENERAL', user: 'U0ALICE', ts: sent.ts, text: `<@${fake.botUserId}> once` });
    await acked(sent.envelopeId);
    await acked(mention.envelopeId);
    fake.resend(sent.envelopeId);
    await eventually(async () => (fake.acks.get(sent.envelopeId) === 2 ? true : undefined));
    expect(events.map((e) => [e.text, e.messageId])).toEqual([['once', sent.ts]]);
  });

  it('leaves an envelope unacknowledged when the hand-off fails, and takes the redelivery after a dropped socket', async () => {
    const { adapter, events, failNext } = await connect();
    failNext();
    const sent = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> survive` });
    await eventually(async () => (log.lines.some((l) => l.includes('leaving it unacknowledged')) ? true : undefined));
    expect(fake.acks.has(sent.envelopeId)).toBe(false);
    expect(events).toHaveLength(0);

    const before = fake.connectionCount;
    fake.dropSockets();
    await eventually(async () => (adapter.status().state === 'reconnecting' ? true : undefined), 10_000, 'reconnecting state');
    // Sent while the socket is down: queued by Slack and delivered on the next connection.
    const during = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> while down` });
    await acked(sent.envelopeId);
    await acked(during.envelopeId);
    expect(fake.connectionCount).toBe(before + 1);
    expect(adapter.status().state).toBe('connected');
    expect(events.map((e) => e.text).sort()).toEqual(['survive', 'while down']);
    expect(fake.unacked()).toEqual([]);
  });

  it('reconnects when Slack asks for a refresh, without losing or doubling messages', async () => {
    const { events } = await connect();
    const first = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> before refresh` });
    await acked(first.envelopeId);
    const before = fake.connectionCount;
    fake.requestRefresh();
    await eventually(async () => (fake.connectionCount === before + 1 ? true : undefined), 15_000, 'a new connection');
    const second = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> after refresh` });
    await acked(second.envelopeId);
    expect(events.map((e) => e.text)).toEqual(['before refresh', 'after refresh']);
    expect(fake.acks.get(first.envelopeId)).toBe(1);
  });

  it('reports a bad bot token or app token as failed, naming the setting and never the token', async () => {
    const badBot = await connect({ bot_token: 'xoxb-not-valid-1234' });
    expect(badBot.adapter.status()).toMatchObject({ state: 'failed', lastError: expect.stringMatching(/invalid_auth.*bot_token/) });
    const badApp = await connect({ app_token: 'xapp-not-valid-5678' });
    expect(badApp.adapter.status()).toMatchObject({ state: 'failed', lastError: expect.stringMatching(/invalid_auth.*app_token/) });
    expect(JSON.stringify([badBot.adapter.status(), badApp.adapter.status()])).not.toMatch(/not-valid/);
    expect(log.lines.join('')).not.toMatch(/not-valid|xoxb-fake|xapp-1-fake/);
  });
});

describe('Slack inbound over HTTP events mode', () => {
  let fake: FakeSlack;
  const signingSecret = 'signing-secret-for-tests-0000';
  let adapter: SlackAdapter;
  let recorder: ReturnType<typeof recordingSink>;
  let endpoint: string;

  beforeAll(async () => {
    fake = await startFakeSlack();
    const [port] = await freePorts(1);
    adapter = new SlackAdapter(
      'default',
      slackInstanceSchema.parse({ mode: 'http', bot_token: fake.botToken, signing_secret: signingSecret, api_url: fake.apiUrl, http: { port, path: '/slack/events' } }),
      capturingLogger().logger,
      {},
    );
    recorder = recordingSink();
    await adapter.start(recorder.sink);
    endpoint = `http://127.0.0.1:${port}/slack/events`;
  });
  afterAll(async () => {
    await adapter.stop();
    await fake.close();
  });

  it('accepts a correctly signed event and answers 200 once it is handed on', async () => {
    expect(adapter.status().state).toBe('connected');
    const { body, ts } = fake.eventCallback({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> over http` });
    const response = await postSignedEvent(endpoint, body, signingSecret);
    expect(response.status).toBe(200);
    expect(recorder.events).toEqual([expect.objectContaining({ conversationId: 'C0GENERAL', messageId: ts, text: 'over http' })]);
  });

  it('rejects a bad signature with 401 and hands nothing on', async () => {
    const { body } = fake.eventCallback({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> forged` });
    const forged = await postSignedEvent(endpoint, body, 'not-the-secret');
    expect(forged.status).toBe(401);
    const raw = JSON.stringify(body);
    const stale = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signSlackRequest(signingSecret, raw, Math.floor(Date.now() / 1000) - 3600) },
      body: raw,
    });
    expect(stale.status).toBe(401);
    expect(recorder.events.map((e) => e.text)).not.toContain('forged');
  });

  it('answers 500 when the hand-off fails, so Slack retries, and takes the retry', async () => {
    const { body } = fake.eventCallback({ channel: 'C0GENERAL', user: 'U0ALICE', text: `<@${fake.botUserId}> retry me` });
    recorder.failNext();
    expect((await postSignedEvent(endpoint, body, signingSecret)).status).toBe(500);
    expect((await postSignedEvent(endpoint, body, signingSecret)).status).toBe(200);
    expect(recorder.events.filter((e) => e.text === 'retry me')).toHaveLength(1);
  });

  it('answers the url_verification challenge', async () => {
    const response = await postSignedEvent(endpoint, { type: 'url_verification', challenge: 'abc123', token: 'unused' }, signingSecret);
    expect(response.status).toBe(200);
    expect(response.text).toContain('abc123');
  });
});
