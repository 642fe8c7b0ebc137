import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Gateway } from '../../lib/gateway/gateway.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { startFakeSlack, type FakeSlack } from '../fake-platforms/slack/server.js';

/**
 * Slack end to end: the fake Slack (Web API + Socket Mode) → the real gateway with the Slack adapter
 * built from spacebot.toml → channel workflows on the dev server → the real worker with the Slack
 * outbound → chat.postMessage on the fake.
 */
describe('Slack end to end through the gateway and the worker', () => {
  let fake: FakeSlack;
  let h: Harness;
  let gateway: Gateway;

  beforeAll(async () => {
    fake = await startFakeSlack();
    h = await createHarness({
      gateway: {},
      toml: `
[[agents]]
id = "main"

[[agents]]
id = "helper"

[adapters.slack.default]
bot_token = "${fake.botToken}"
app_token = "${fake.appToken}"
api_url = "${fake.apiUrl}"
require_mention = false
max_message_chars = 300
ping_timeout_ms = 1000

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
    h.fake.script((req) => ({
      text: req.lastUserText?.includes('long') ? Array.from({ length: 6 }, (_, i) => `Part ${i}: ${'lorem ipsum '.repeat(8)}`).join('\n\n') : `answer to ${req.lastUserText}`,
    }));
  });

  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  const postsTo = (channel: string, threadTs?: string) => fake.posts.filter((p) => p.channel === channel && p.threadTs === threadTs);

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
});
