import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Gateway } from '../../lib/gateway/gateway.js';
import type { NeutralRequest, ScriptStep } from '../fake-llm/server.js';
import { createHarness, eventually, workflowExists, type Harness } from '../helpers/harness.js';
import { startFakeSlack, type FakeSlack } from '../fake-platforms/slack/server.js';
import { statusQuery } from '../../workflows/channel-contract.js';
import { words } from '../helpers/words.js';

/**
 * Slack end to end: the fake Slack (Web API + Socket Mode) → the real gateway with the Slack adapter
 * built from spacebot.toml → channel workflows on the dev server → the real worker with the Slack
 * outbound → chat.postMessage on the fake. Besides replies: the `react` tool, the assistant-thread
 * status while the model thinks, a streamed reply edited in place, filtered messages, and a dropped
 * Socket Mode connection.
 */
describe('Slack end to end through the gateway and the worker', () => {
  let fake: FakeSlack;
  let h: Harness;
  let gateway: Gateway;
  /** Special answers by a phrase of the user's message (channels prefix it with "[U…] "). */
  const special = new Map<string, ScriptStep>();

  beforeAll(async () => {
    fake = await startFakeSlack();
    h = await createHarness({
      gateway: {},
      toml: `
[[agents]]
id = "main"
# Streaming is on by default; said explicitly, as the streamed-reply test depends on it.
streaming = true

[[agents]]
id = "helper"

[adapters.slack.default]
bot_token = "${fake.botToken}"
app_token = "${fake.appToken}"
api_url = "${fake.apiUrl}"
require_mention = false
max_message_chars = 300
ping_timeout_ms = 1000
allowed_workspaces = ["${fake.teamId}"]

[[bindings]]
agent = "helper"
platform = "slack"
channel = "C0HELP"

[gateway]
unmatched = "default_agent"
default_agent = "main"
`,
    });
    gateway = h.gateway!;
    h.fake.script((req: NeutralRequest) => {
      // After tool results (react, reply) the turn is over: nothing more to say.
      if (req.messages.at(-1)?.role === 'tool') return { text: '' };
      const last = req.lastUserText ?? '';
      for (const [phrase, step] of special) if (last.includes(phrase)) return step;
      return {
        text: last.includes('long') ? Array.from({ length: 6 }, (_, i) => `Part ${i}: ${'lorem ipsum '.repeat(8)}`).join('\n\n') : `answer to ${last}`,
      };
    });
  });

  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  const postsTo = (channel: string, threadTs?: string) => fake.posts.filter((p) => p.channel === channel && p.threadTs === threadTs);
  const callsOf = (method: string) => fake.calls.filter((c) => c.method === method);
  const acked = (envelopeId: string) => eventually(async () => (fake.acks.has(envelopeId) ? true : undefined), 20_000, `the ack of ${envelopeId}`);
  /** Model requests whose last user message contains `phrase`. */
  const modelCallsFor = (phrase: string) => h.fake.requests.filter((r) => r.neutral?.lastUserText.includes(phrase));
  /** Waits until the conversation finished `turns` turns and has nothing running or queued. */
  const idle = (conversationId: string, turns = 1, agent = 'main') =>
    eventually(
      async () => {
        const status = await h.env.client.workflow
          .getHandle(`channel:${agent}:slack:${conversationId}`)
          .query(statusQuery)
          .catch(() => undefined);
        return status && !status.running && status.queued === 0 && status.completedTurns >= turns ? status : undefined;
      },
      60_000,
      `conversation ${conversationId} to be idle`,
    );

  it('answers a channel message in the channel and a thread message in its thread', async () => {
    expect(gateway.statuses()).toEqual([expect.objectContaining({ kind: 'slack', instance: 'default', platform: 'slack', state: 'connected' })]);
    const top = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', text: 'hello there' });
    const threaded = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', threadTs: '1600000000.000001', text: 'in a thread' });

    await eventually(async () => (postsTo('C0GENERAL').length > 0 ? true : undefined), 60_000, 'the channel reply');
    await eventually(async () => (postsTo('C0GENERAL', '1600000000.000001').length > 0 ? true : undefined), 60_000, 'the thread reply');
    // In channels the workflow tells the model who spoke ("[U0ALICE] …").
    expect(postsTo('C0GENERAL').map((p) => p.text)).toEqual([expect.stringMatching(/^answer to .*hello there$/)]);
    expect(postsTo('C0GENERAL', '1600000000.000001').map((p) => p.text)).toEqual([expect.stringMatching(/^answer to .*in a thread$/)]);
    expect(fake.acks.has(top.envelopeId) && fake.acks.has(threaded.envelopeId)).toBe(true);
    // Each conversation is its own channel workflow.
    await h.env.client.workflow.getHandle('channel:main:slack:C0GENERAL').describe();
    await h.env.client.workflow.getHandle('channel:main:slack:C0GENERAL.1600000000.000001').describe();
  });

  it('routes a bound channel to its agent and the rest to the default agent', async () => {
    fake.sendMessage({ channel: 'C0HELP', user: 'U0ALICE', text: 'need help' });
    await eventually(async () => (postsTo('C0HELP').length > 0 ? true : undefined), 60_000, 'the helper reply');
    expect(postsTo('C0HELP').map((p) => p.text)).toEqual([expect.stringMatching(/^answer to .*need help$/)]);
    const helper = await h.env.client.workflow.getHandle('channel:helper:slack:C0HELP').describe();
    expect(helper.status.name).toBe('RUNNING');
    await expect(h.env.client.workflow.getHandle('channel:main:slack:C0HELP').describe()).rejects.toThrow();
  });

  it('splits a long reply into parts in the thread', async () => {
    fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', threadTs: '1600000000.000002', text: 'something long please' });
    await eventually(async () => (postsTo('C0GENERAL', '1600000000.000002').some((p) => p.text.includes('Part 5:')) ? true : undefined), 60_000, 'the split reply');
    const parts = postsTo('C0GENERAL', '1600000000.000002');
    for (const part of parts) expect(part.text.length).toBeLessThanOrEqual(300);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.map((p) => p.text).join('\n\n').match(/Part \d:/g)).toEqual(['Part 0:', 'Part 1:', 'Part 2:', 'Part 3:', 'Part 4:', 'Part 5:']);
  });

  it('delivers once after a 429 on chat.postMessage', async () => {
    fake.rateLimit('chat.postMessage', 1);
    fake.sendMessage({ channel: 'C0GENERAL', user: 'U0BOB', threadTs: '1600000000.000003', text: 'rate me' });
    await eventually(async () => (postsTo('C0GENERAL', '1600000000.000003').length > 0 ? true : undefined), 60_000, 'the reply after the 429');
    const attempts = fake.calls.filter((c) => c.method === 'chat.postMessage' && c.params.thread_ts === '1600000000.000003');
    expect(attempts).toHaveLength(2);
    expect(postsTo('C0GENERAL', '1600000000.000003').map((p) => p.text)).toEqual([expect.stringMatching(/^answer to .*rate me$/)]);
  });

  it('puts the reaction the model asks for with the react tool on the message that triggered the turn', async () => {
    const thread = '1600000000.000010';
    special.set('react to this', { toolCalls: [{ name: 'react', input: { emoji: '👍' } }, { name: 'reply', input: { text: 'on it' } }] });
    // An earlier message in the same conversation, answered first: the reaction must not go there.
    const earlier = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', threadTs: thread, text: 'an earlier message' });
    await eventually(async () => (postsTo('C0GENERAL', thread).length ? true : undefined), 60_000, 'the first reply');
    await idle(`C0GENERAL.${thread}`);
    const sent = fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', threadTs: thread, text: 'please react to this' });
    await eventually(async () => (postsTo('C0GENERAL', thread).some((p) => p.text === 'on it') ? true : undefined), 60_000, 'the reply after the reaction');
    await idle(`C0GENERAL.${thread}`, 2);

    expect(sent.ts).not.toBe(earlier.ts);
    // reactions.add on the triggering message (its ts), in its channel, by Slack emoji name.
    const calls = callsOf('reactions.add').filter((c) => c.params.timestamp === sent.ts || c.params.timestamp === earlier.ts);
    expect(calls.map((c) => c.params)).toEqual([{ channel: 'C0GENERAL', timestamp: sent.ts, name: 'thumbsup' }]);
    expect(calls[0]!.token).toBe(fake.botToken);
    expect(fake.reactions.filter((r) => r.timestamp === sent.ts || r.timestamp === earlier.ts)).toEqual([{ channel: 'C0GENERAL', timestamp: sent.ts, name: 'thumbsup' }]);
    // The reply tool's text is posted once, in the thread, next to the first answer.
    expect(postsTo('C0GENERAL', thread).map((p) => p.text)).toEqual([expect.stringMatching(/^answer to .*an earlier message$/), 'on it']);
    // The model is told the reaction worked.
    const results = h.fake.requests.flatMap((r) => r.neutral?.messages.flatMap((m) => m.toolResults ?? []) ?? []);
    expect(results).toContainEqual(expect.objectContaining({ text: expect.stringContaining('Reacted with 👍') }));
    expect(results.filter((r) => r.text.includes('Reacted with')).every((r) => !r.isError)).toBe(true);
  });

  it('shows the assistant-thread status in a DM thread while the model thinks, and nowhere else', async () => {
    const thread = '1600000000.000020';
    special.set('think a moment', { text: 'done thinking', delayMs: 3_000 });
    const statusesBefore = callsOf('assistant.threads.setStatus').length;
    // The DM's main timeline is not an assistant thread: answered, without a status.
    fake.sendMessage({ channel: 'D0ALICE', user: 'U0ALICE', text: 'a plain DM' });
    fake.sendMessage({ channel: 'D0ALICE', user: 'U0ALICE', threadTs: thread, text: 'think a moment' });
    // The status is set while the (slow) model call runs: before anything is posted.
    const status = await eventually(
      async () => callsOf('assistant.threads.setStatus').slice(statusesBefore).find((c) => c.params.thread_ts === thread),
      30_000,
      'the assistant status',
    );
    expect(postsTo('D0ALICE', thread)).toEqual([]);
    expect(status.params).toEqual({ channel_id: 'D0ALICE', thread_ts: thread, status: 'is thinking…' });
    expect(status.token).toBe(fake.botToken);

    await eventually(async () => (postsTo('D0ALICE', thread).length ? true : undefined), 30_000, 'the DM thread reply');
    await idle(`D0ALICE.${thread}`);
    expect(postsTo('D0ALICE', thread).map((p) => p.text)).toEqual(['done thinking']);
    await eventually(async () => (postsTo('D0ALICE').length ? true : undefined), 30_000, 'the DM reply');
    await idle('D0ALICE');
    expect(postsTo('D0ALICE').map((p) => p.text)).toEqual([expect.stringMatching(/^answer to .*a plain DM$/)]);
    const order = fake.calls.filter((c) => (c.method === 'assistant.threads.setStatus' || c.method === 'chat.postMessage') && (c.params.thread_ts === thread));
    expect(order[0]!.method).toBe('assistant.threads.setStatus');
    expect(order.at(-1)!.method).toBe('chat.postMessage');
    // Only assistant threads (threads in the app's DM) get a status: channels and DM main timelines never do.
    expect(callsOf('assistant.threads.setStatus').every((c) => c.params.channel_id === 'D0ALICE' && c.params.thread_ts === thread)).toBe(true);
  }, 60_000);

  it('streams a slow answer into one message: posted once, edited in place with chat.update, finalised with the complete text', async () => {
    const thread = '1600000000.000030';
    // About 4 s of words, under max_message_chars: a draft after the edit interval (1.2 s), edits, then the final.
    const answer = `**Streaming** ${words(40, 'w')}`;
    const rendered = `*Streaming* ${words(40, 'w')}`;
    special.set('stream it', { text: answer, chunkDelayMs: 100 });
    fake.sendMessage({ channel: 'C0GENERAL', user: 'U0ALICE', threadTs: thread, text: 'stream it' });
    await eventually(async () => (postsTo('C0GENERAL', thread)[0]?.text === rendered ? true : undefined), 60_000, 'the complete text');
    await idle(`C0GENERAL.${thread}`);

    // One chat.postMessage (the draft), never a second one.
    const postCalls = callsOf('chat.postMessage').filter((c) => c.params.thread_ts === thread);
    expect(postCalls).toHaveLength(1);
    const posts = postsTo('C0GENERAL', thread);
    expect(posts).toHaveLength(1);
    const [draft] = posts;
    // Posted while the answer was still streaming: a beginning of it, not the whole.
    const first = String(postCalls[0]!.params.text);
    expect(first.length).toBeLessThan(rendered.length);
    expect(rendered.startsWith(first)).toBe(true);
    // Then chat.update on that same ts, growing, the last one with the complete text.
    const updates = callsOf('chat.update').filter((c) => c.params.channel === 'C0GENERAL' && c.params.ts === draft!.ts);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(callsOf('chat.update').filter((c) => c.params.channel === 'C0GENERAL' && fake.posts.every((p) => p.ts !== c.params.ts))).toEqual([]);
    const shown = [first, ...updates.map((u) => String(u.params.text))];
    for (const [i, text] of shown.entries()) {
      expect(rendered.startsWith(text)).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThanOrEqual(shown[i - 1]!.length);
    }
    expect(new Set(shown).size).toBeGreaterThanOrEqual(3);
    expect(updates.at(-1)!.params.text).toBe(rendered);
    expect(draft!.edits.at(-1)).toBe(rendered);
    expect(draft!.text).toBe(rendered);
    // Coalesced (at most one edit per 1.2 s), not one per streamed word (41 of them).
    expect(updates.length).toBeLessThanOrEqual(15);
    // The model call was streamed, and the delivery finalised the draft instead of posting.
    expect(modelCallsFor('stream it').every((r) => r.neutral?.stream === true)).toBe(true);
    const channelId = `channel:main:slack:C0GENERAL.${thread}`;
    const deliveries = await h.database.db.selectFrom('deliveries').select(['platform_message_id', 'status']).where('channel_id', '=', channelId).execute();
    expect(deliveries).toEqual([{ platform_message_id: draft!.ts, status: 'delivered' }]);
    const outbound = await h.database.db.selectFrom('messages').select('text').where('channel_id', '=', channelId).where('direction', '=', 'outbound').execute();
    expect(outbound).toEqual([{ text: answer }]);
  }, 60_000);

  it('stops the assistant-thread status once a streamed answer shows, so it never outlives the answer', async () => {
    const thread = '1600000000.000040';
    // About 8 s of streaming: longer than the 5 s typing refresh, so a refresh would land after the draft's post.
    const answer = words(40, 'slow');
    special.set('stream slowly', { text: answer, delayMs: 1_500, chunkDelayMs: 200 });
    fake.sendMessage({ channel: 'D0ALICE', user: 'U0ALICE', threadTs: thread, text: 'stream slowly' });
    await eventually(async () => (postsTo('D0ALICE', thread)[0]?.text === answer ? true : undefined), 60_000, 'the complete text');
    await idle(`D0ALICE.${thread}`);

    const inThread = fake.calls.filter((c) => c.params.thread_ts === thread || c.params.ts === postsTo('D0ALICE', thread)[0]?.ts);
    const methods = inThread.map((c) => c.method);
    // The status was shown while nothing was visible yet, then the draft was posted and edited.
    expect(methods[0]).toBe('assistant.threads.setStatus');
    const posted = methods.indexOf('chat.postMessage');
    expect(posted).toBeGreaterThan(0);
    expect(methods.filter((m) => m === 'chat.postMessage')).toHaveLength(1);
    expect(methods.slice(posted + 1).filter((m) => m === 'chat.update').length).toBeGreaterThanOrEqual(2);
    // Slack clears the status when the draft is posted; none was set again after it.
    expect(methods.slice(posted)).not.toContain('assistant.threads.setStatus');
  }, 60_000);

  it('ignores filtered messages end to end: no workflow started, no model call, nothing posted', async () => {
    const filtered = [
      // Another bot, and the bot itself.
      fake.sendMessage({ channel: 'C0BOTS', botId: 'B0OTHER', subtype: 'bot_message', text: 'beep from another bot' }),
      fake.sendMessage({ channel: 'C0BOTS', user: fake.botUserId, botId: fake.botId, text: 'my own words coming back' }),
      // A person in a workspace that is not in allowed_workspaces.
      fake.sendMessage({ channel: 'C0FOREIGN', user: 'U0EVE', teamId: 'T0OTHER', text: 'hello from another workspace' }),
      // An edit of a message (not something said).
      fake.sendMessage({ channel: 'C0EDITS', user: 'U0ALICE', subtype: 'message_changed', text: 'an edited message' }),
    ];
    const marker = fake.sendMessage({ channel: 'C0MARKER', user: 'U0ALICE', text: 'marker after the filtered ones' });
    await eventually(async () => (postsTo('C0MARKER').length ? true : undefined), 60_000, 'the marker reply');
    // Filtered envelopes are acknowledged too (so Slack does not redeliver them), after processing.
    for (const { envelopeId } of [...filtered, marker]) await acked(envelopeId);

    for (const channel of ['C0BOTS', 'C0FOREIGN', 'C0EDITS']) {
      expect(await workflowExists(h, `channel:main:slack:${channel}`)).toBe(false);
      expect(fake.posts.filter((p) => p.channel === channel)).toEqual([]);
      expect(fake.calls.filter((c) => c.params.channel === channel || c.params.channel_id === channel)).toEqual([]);
    }
    for (const text of ['beep from another bot', 'my own words coming back', 'hello from another workspace', 'an edited message']) expect(modelCallsFor(text)).toEqual([]);
    // The marker, from the allowed workspace, went all the way.
    expect(await workflowExists(h, 'channel:main:slack:C0MARKER')).toBe(true);
    expect(postsTo('C0MARKER').map((p) => p.text)).toEqual([expect.stringMatching(/^answer to .*marker after the filtered ones$/)]);
  });

  it('answers every message sent around a dropped Socket Mode connection exactly once', async () => {
    const threads = { before: '1600000000.000041', atDrop: '1600000000.000042', whileDown: '1600000000.000043', after: '1600000000.000044' };
    const send = (thread: string, text: string) => fake.sendMessage({ channel: 'C0RECON', user: 'U0ALICE', threadTs: thread, text });
    const connections = fake.connectionCount;

    const before = send(threads.before, 'sent before the drop');
    await acked(before.envelopeId);
    // On the wire when the connection dies: never read by the client, so never acknowledged; Slack
    // redelivers it (as a retry) on the next connection.
    fake.loseNext();
    const atDrop = send(threads.atDrop, 'lost as the socket drops');
    fake.dropSockets();
    // No socket is open: Slack holds this one for the next connection.
    const whileDown = send(threads.whileDown, 'sent while the socket is down');
    await eventually(
      async () => (fake.connectionCount > connections && gateway.statuses()[0]?.state === 'connected' ? true : undefined),
      30_000,
      'the reconnection',
    );
    // Slack redelivers an envelope whose ack it lost; the gateway must not submit it a second time.
    fake.resend(before.envelopeId);
    const after = send(threads.after, 'sent after the reconnect');

    for (const thread of Object.values(threads)) {
      await eventually(async () => (postsTo('C0RECON', thread).length ? true : undefined), 60_000, `the reply in ${thread}`);
    }
    await eventually(async () => (fake.unacked().length === 0 ? true : undefined), 30_000, 'every envelope acknowledged');
    expect(fake.acks.get(before.envelopeId)).toBe(2);
    for (const { envelopeId } of [atDrop, whileDown, after]) expect(fake.acks.has(envelopeId)).toBe(true);
    for (const thread of Object.values(threads)) await idle(`C0RECON.${thread}`);

    const expected: [string, string, string][] = [
      [threads.before, before.ts, 'sent before the drop'],
      [threads.atDrop, atDrop.ts, 'lost as the socket drops'],
      [threads.whileDown, whileDown.ts, 'sent while the socket is down'],
      [threads.after, after.ts, 'sent after the reconnect'],
    ];
    for (const [thread, ts, text] of expected) {
      const channelId = `channel:main:slack:C0RECON.${thread}`;
      // Answered once: one post, one model call, one inbound message in the transcript.
      expect(postsTo('C0RECON', thread).map((p) => p.text)).toEqual([expect.stringMatching(new RegExp(`^answer to .*${text}$`))]);
      expect(modelCallsFor(text)).toHaveLength(1);
      const inbound = await h.database.db.selectFrom('messages').select(['platform_message_id', 'text']).where('channel_id', '=', channelId).where('direction', '=', 'inbound').execute();
      expect(inbound).toEqual([{ platform_message_id: ts, text }]);
      const status = await idle(`C0RECON.${thread}`);
      expect(status.completedTurns).toBe(1);
    }
    await eventually(async () => (gateway.statuses()[0]?.state === 'connected' ? true : undefined), 30_000, 'the adapter to be connected');
  }, 90_000);
});
