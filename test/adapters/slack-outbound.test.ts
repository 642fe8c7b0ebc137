import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { PlatformError } from '../../adapters/platform-error.js';
import { SlackAdapter } from '../../adapters/slack/adapter.js';
import { slackInstanceSchema, type SlackInstanceInput } from '../../adapters/slack/config.js';
import { toSlackMrkdwn } from '../../adapters/slack/format.js';
import { startFakeSlack, type FakeSlack } from '../fake-platforms/slack/server.js';

/** A logger whose output the test reads, to prove tokens never reach it. */
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

describe('Slack outbound against the fake Web API', () => {
  let fake: FakeSlack;
  let log: ReturnType<typeof capturingLogger>;

  const adapter = (overrides: Partial<SlackInstanceInput> = {}, instance = 'default') =>
    new SlackAdapter(instance, slackInstanceSchema.parse({ bot_token: fake.botToken, app_token: fake.appToken, api_url: fake.apiUrl, ...overrides }), log.logger, {});

  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  beforeEach(() => {
    log = capturingLogger();
    fake.calls.length = 0;
    fake.posts.length = 0;
    fake.reactions.length = 0;
  });
  afterAll(async () => {
    await fake.close();
  });

  it('posts a reply into the channel, or into the thread it answers, with the bot token', async () => {
    const slack = adapter().outbound;
    const top = await slack.send({ deliveryKey: 'k1', conversationId: 'C0GENERAL', text: 'Hello **there**' });
    const threaded = await slack.send({ deliveryKey: 'k2', conversationId: 'C0GENERAL.1700000001.000001', text: 'In the thread', replyTo: '1700000002.000002' });

    expect(fake.posts).toEqual([
      expect.objectContaining({ channel: 'C0GENERAL', threadTs: undefined, text: 'Hello *there*', ts: top.platformMessageId }),
      expect.objectContaining({ channel: 'C0GENERAL', threadTs: '1700000001.000001', text: 'In the thread', ts: threaded.platformMessageId }),
    ]);
    expect(fake.calls.map((c) => [c.method, c.token])).toEqual([
      ['chat.postMessage', fake.botToken],
      ['chat.postMessage', fake.botToken],
    ]);
    expect(top.partIds).toBeUndefined();
  });

  it('splits a long reply at the limit without breaking a code block', async () => {
    const slack = adapter({ max_message_chars: 200 }).outbound;
    const code = Array.from({ length: 12 }, (_, i) => `const line${i} = ${i}; // some code`).join('\n');
    const text = `Intro paragraph.\n\n\`\`\`ts\n${code}\n\`\`\`\n\nOutro with *emphasis*.`;
    const sent = await slack.send({ deliveryKey: 'long', conversationId: 'C0GENERAL.1700000001.000001', text });

    expect(fake.posts.length).toBeGreaterThan(2);
    expect(sent.partIds).toEqual(fake.posts.map((p) => p.ts));
    expect(sent.platformMessageId).toBe(fake.posts[0]!.ts);
    for (const post of fake.posts) {
      expect(post.text.length).toBeLessThanOrEqual(200);
      expect(post.threadTs).toBe('1700000001.000001');
      // Every part has balanced fences, so each renders on its own.
      expect((post.text.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    const rejoined = fake.posts.map((p) => p.text).join('\n').replace(/\n?```\n```\n?/g, '\n');
    for (let i = 0; i < 12; i++) expect(rejoined).toContain(`const line${i} = ${i}; // some code`);
    expect(fake.posts.at(-1)!.text).toContain('Outro with _emphasis_.');
  });

  it('edits a posted message in place with chat.update, cut to one message', async () => {
    const slack = adapter({ max_message_chars: 100 }).outbound;
    const sent = await slack.send({ deliveryKey: 'stream', conversationId: 'C0GENERAL', text: 'Thinking' });
    await slack.edit!('C0GENERAL', sent.platformMessageId, 'Thinking about it');
    await slack.edit!('C0GENERAL', sent.platformMessageId, 'word '.repeat(50));

    expect(fake.posts).toHaveLength(1);
    expect(fake.posts[0]!.edits[0]).toBe('Thinking about it');
    expect(fake.posts[0]!.edits[1]!.length).toBeLessThanOrEqual(100);
    expect(fake.calls.filter((c) => c.method === 'chat.update').map((c) => c.params.ts)).toEqual([sent.platformMessageId, sent.platformMessageId]);
    expect(slack.minEditIntervalMs).toBe(1200);
    expect(slack.maxMessageChars).toBe(100);
  });

  it('adds reactions by Slack emoji name, and a repeated reaction is not an error', async () => {
    const slack = adapter().outbound;
    await slack.react!('C0GENERAL.1700000001.000001', '1700000003.000003', '👍');
    await slack.react!('C0GENERAL', '1700000003.000003', ':eyes:');
    await slack.react!('C0GENERAL', '1700000003.000003', 'eyes');

    expect(fake.reactions).toEqual([
      { channel: 'C0GENERAL', timestamp: '1700000003.000003', name: 'thumbsup' },
      { channel: 'C0GENERAL', timestamp: '1700000003.000003', name: 'eyes' },
    ]);
  });

  it('shows the assistant status in assistant (DM) threads and does nothing elsewhere', async () => {
    const slack = adapter({ status_text: 'is working…' }).outbound;
    await slack.typing!('D0ALICE.1700000001.000001');
    await slack.typing!('C0GENERAL.1700000001.000001');
    await slack.typing!('D0ALICE');

    const statusCalls = fake.calls.filter((c) => c.method === 'assistant.threads.setStatus');
    expect(statusCalls.map((c) => c.params)).toEqual([{ channel_id: 'D0ALICE', thread_ts: '1700000001.000001', status: 'is working…' }]);
  });

  it('stops asking for a status where Slack refuses it, but still reports a bad token', async () => {
    const slack = adapter().outbound;
    fake.failNext('assistant.threads.setStatus', 'not_allowed_token_type');
    await slack.typing!('D0BOB.1700000001.000001');
    await slack.typing!('D0BOB.1700000001.000001');
    expect(fake.calls.filter((c) => c.method === 'assistant.threads.setStatus')).toHaveLength(1);

    fake.failNext('assistant.threads.setStatus', 'invalid_auth');
    await expect(slack.typing!('D0CAROL.1700000001.000001')).rejects.toMatchObject({ permanent: true, status: 401 });
  });

  it('turns a 429 into a retryable PlatformError with Slack’s retry-after, and a retry posts once', async () => {
    const slack = adapter().outbound;
    fake.rateLimit('chat.postMessage', 7);
    const error = await slack.send({ deliveryKey: 'rl', conversationId: 'C0GENERAL', text: 'hi' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ permanent: false, status: 429, retryAfterMs: 7000 });
    // One request only: the client neither retried nor waited out the 429 itself.
    expect(fake.calls).toHaveLength(1);
    expect(fake.posts).toHaveLength(0);

    await slack.send({ deliveryKey: 'rl', conversationId: 'C0GENERAL', text: 'hi' });
    expect(fake.posts.map((p) => p.text)).toEqual(['hi']);
  });

  it('resumes a split reply from its recorded progress after a 429 on a later part instead of posting the first part again', async () => {
    const slack = adapter({ max_message_chars: 100 }).outbound;
    const text = Array.from({ length: 3 }, (_, i) => `Paragraph ${i} ${'x'.repeat(80)}`).join('\n\n');
    fake.rateLimit('chat.postMessage', 1, 1, 1);
    // The delivery outbox's progress (kept in the deliveries row in production): parts recorded as posted.
    const posted: string[] = [];
    const progress = () => ({ posted: [...posted], record: async (index: number, id: string) => void (posted[index] = id) });
    await expect(slack.send({ deliveryKey: 'parts', conversationId: 'C0GENERAL', text, progress: progress() })).rejects.toMatchObject({ status: 429, retryAfterMs: 1000 });
    expect(fake.posts).toHaveLength(1);
    expect(posted).toEqual([fake.posts[0]!.ts]);
    const sent = await slack.send({ deliveryKey: 'parts', conversationId: 'C0GENERAL', text, progress: progress() });
    expect(sent.partIds).toEqual(fake.posts.map((p) => p.ts));
    expect(fake.posts.map((p) => p.text.slice(0, 11))).toEqual(['Paragraph 0', 'Paragraph 1', 'Paragraph 2']);
  });

  it('treats invalid_auth as permanent, with a hint and without the token', async () => {
    const slack = new SlackAdapter(
      'default',
      slackInstanceSchema.parse({ bot_token: 'xoxb-wrong-token-9999', app_token: fake.appToken, api_url: fake.apiUrl }),
      log.logger,
      {},
    ).outbound;
    const error = await slack.send({ deliveryKey: 'bad', conversationId: 'C0GENERAL', text: 'hi' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ permanent: true, status: 401 });
    expect((error as Error).message).toMatch(/invalid_auth.*bot token/);
    expect(log.lines.join('')).not.toContain('xoxb-wrong-token-9999');
    expect(log.lines.join('')).toContain('invalid_auth');
  });

  it('treats not_in_channel and channel_not_found as permanent', async () => {
    const slack = adapter().outbound;
    fake.failNext('chat.postMessage', 'not_in_channel');
    await expect(slack.send({ deliveryKey: 'nic', conversationId: 'C0GENERAL', text: 'hi' })).rejects.toMatchObject({ permanent: true, status: 403 });
    fake.failNext('chat.postMessage', 'channel_not_found');
    await expect(slack.send({ deliveryKey: 'cnf', conversationId: 'C0GENERAL', text: 'hi' })).rejects.toMatchObject({ permanent: true, status: 404 });
    fake.failNext('chat.postMessage', 'internal_error');
    await expect(slack.send({ deliveryKey: 'ie', conversationId: 'C0GENERAL', text: 'hi' })).rejects.toMatchObject({ permanent: false });
  });

  it('uses the named instance’s platform key and environment tokens', () => {
    const named = new SlackAdapter('work', slackInstanceSchema.parse({ api_url: fake.apiUrl }), log.logger, {
      SLACK_WORK_BOT_TOKEN: 'xoxb-from-env',
      SLACK_WORK_APP_TOKEN: 'xapp-from-env',
    });
    expect(named.outbound.platform).toBe('slack-work');
    expect(() => new SlackAdapter('work', slackInstanceSchema.parse({}), log.logger, {})).toThrow(/SLACK_WORK_BOT_TOKEN/);
    expect(() => new SlackAdapter('default', slackInstanceSchema.parse({ bot_token: 'xoxb-1' }), log.logger, {})).toThrow(/SLACK_APP_TOKEN/);
    expect(() => new SlackAdapter('default', slackInstanceSchema.parse({ bot_token: 'xoxb-1', mode: 'http' }), log.logger, {})).toThrow(/SLACK_SIGNING_SECRET/);
  });
});

describe('Markdown to Slack mrkdwn', () => {
  it('converts emphasis, links and headings, escapes control characters, and leaves code alone', () => {
    expect(toSlackMrkdwn('# Title\n**bold** and *it* and ~~gone~~ and [docs](https://x.dev/a)\n- item')).toBe(
      '*Title*\n*bold* and _it_ and ~gone~ and <https://x.dev/a|docs>\n• item',
    );
    expect(toSlackMrkdwn('a < b & `x **y**`\n```js\nif (a < b) **c**\n```')).toBe('a &lt; b &amp; `x **y**`\n```\nif (a &lt; b) **c**\n```');
    expect(toSlackMrkdwn('2 * 3 * 4')).toBe('2 * 3 * 4');
  });
});
