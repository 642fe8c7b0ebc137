import { WEBHOOK_PLATFORM } from '../../adapters/webhook.js';
import { ChannelClient } from '../../lib/channel/channel-client.js';
import { channelWorkflowId } from '../../workflows/channel-contract.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { extractionScript } from '../ingest/script.js';

/**
 * Issue 14, findings 1 and 8: text Postgres cannot store (NUL, unpaired surrogates) is refused at the
 * API's doors with a 400 naming the field, a message that reaches the workflow anyway (the path the
 * chat gateway takes) does not wedge its conversation, and path parameters up to the documented
 * lengths are accepted (longer ones get a JSON error naming the problem).
 */

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.fake.reset());

const messagesOf = (conversation: string) => `/v1/agents/main/conversations/${conversation}/messages`;

async function transcript(conversation: string): Promise<{ direction: string; text: string }[]> {
  const res = await h.request('GET', messagesOf(conversation));
  return res.body.messages as { direction: string; text: string }[];
}

test('a message with a NUL is a 400 naming text, and the conversation answers the next message', async () => {
  const nul = await h.request('POST', messagesOf('nul-api'), '{"text":"\\u0000hello"}');
  expect(nul.status).toBe(400);
  expect(nul.body).toMatchObject({ error: 'invalid_request', field: 'text' });
  expect(String(nul.body.message)).toMatch(/body\.text: must not contain NUL/);

  h.fake.enqueue({ text: 'Still here.' });
  const next = await h.request('POST', messagesOf('nul-api'), { text: 'hello again', wait: 30_000 });
  expect(next.status).toBe(200);
  expect(next.body).toMatchObject({ status: 'completed', replies: [expect.objectContaining({ text: 'Still here.' })] });
});

test.each([
  ['a lone high surrogate in text', '{"text":"a\\ud800b"}', 'text'],
  ['a lone low surrogate in the sender name', '{"text":"hi","sender":{"id":"u1","name":"\\udc00"}}', 'sender.name'],
  ['a NUL in a field name', '{"text":"hi","\\u0000":1}', '"\\u0000"'],
])('%s is a 400 naming the field', async (_what, body, field) => {
  const res = await h.request('POST', messagesOf('surrogates'), body);
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({ error: 'invalid_request', field });
});

test('a NUL in a memory, a heartbeat prompt, a query value or a path parameter is a 400, not a 500', async () => {
  const memory = await h.request('POST', '/v1/agents/main/memories', '{"content":"likes \\u0000 tea","type":"fact"}');
  expect(memory.status).toBe(400);
  expect(memory.body).toMatchObject({ error: 'invalid_request', field: 'content' });

  const heartbeat = await h.request('POST', '/v1/agents/main/heartbeats', '{"id":"nul","prompt":"check\\u0000","cron":"0 0 1 1 *"}');
  expect(heartbeat.status).toBe(400);
  expect(heartbeat.body).toMatchObject({ error: 'invalid_request', field: 'prompt' });

  const query = await h.request('GET', '/v1/agents/main/memories/search?q=tea%00');
  expect(query.status).toBe(400);
  expect(query.body).toMatchObject({ error: 'invalid_request', field: 'q' });

  const param = await h.request('GET', `/v1/runs/${encodeURIComponent('channel:\u0000')}`);
  expect(param.status).toBe(400);
  expect(param.body.error).toBe('invalid_request');
});

test('a NUL and a lone surrogate that reach the workflow (as from a chat platform) do not wedge the conversation', async () => {
  // The gateway submits through ChannelClient, past the HTTP doors: the last line of defence is the
  // activity that writes the transcript.
  const channels = new ChannelClient(h.env.client, h.config);
  const key = { agentId: 'main', platform: WEBHOOK_PLATFORM, conversationId: 'nul-gateway' };
  h.fake.enqueue({ text: 'First answer.' }, { text: 'Second answer.' });
  const first = await channels.submit({ ...key, message: { messageId: 'g1', text: 'bad\u0000 text \ud800 here', receivedAt: new Date().toISOString() }, waitMs: 60_000 });
  expect(first.timedOut).toBe(false);
  expect(first.result?.status).toBe('completed');

  const next = await h.request('POST', messagesOf('nul-gateway'), { text: 'and now?', wait: 60_000 });
  expect(next.status).toBe(200);
  expect(next.body.status).toBe('completed');
  const inbound = (await transcript('nul-gateway')).filter((m) => m.direction === 'inbound').map((m) => m.text);
  expect(inbound).toEqual(['bad text  here', 'and now?']);
  // A replay fixture of a channel whose inbound writes run inside the turn (patch channel-inbound-write-in-turn).
  await recordHistories(h.env, channelWorkflowId(key), 'hostile-text-past-the-door');
});

test('a file with NUL characters is ingested, its text cleaned as at every door', async () => {
  h.fake.script(extractionScript);
  // Base64 gets past the HTTP door's text check: the bytes are only text once extracted.
  const text = 'FACT: the\u0000 vault code is 1234.\nMore \u0000 words.\n';
  const res = await h.request('POST', '/v1/agents/main/ingest', { filename: 'nul.txt', content: Buffer.from(text).toString('base64'), encoding: 'base64' });
  expect(res.status).toBe(202);
  const id = (res.body.ingestion as { id: string }).id;
  const done = await eventually(
    async () => {
      const ing = (await h.request('GET', `/v1/agents/main/ingest/${id}`)).body.ingestion as { status: string; error: string | null } | undefined;
      return ing && (ing.status === 'done' || ing.status === 'failed') ? ing : undefined;
    },
    90_000,
    'the ingestion to finish',
  );
  expect(done).toMatchObject({ status: 'done', error: null });
});

test('path parameters: 150 characters are accepted, past the documented 200 a 400 names the parameter, past 1000 a JSON 414', async () => {
  const ok = await h.request('GET', messagesOf('c'.repeat(150)));
  expect(ok.status).toBe(200);
  expect(ok.body.messages).toEqual([]);

  const tooLong = await h.request('GET', messagesOf('c'.repeat(201)));
  expect(tooLong.status).toBe(400);
  expect(tooLong.body).toMatchObject({ error: 'invalid_request', field: 'conversation' });

  const run = await h.request('GET', `/v1/runs/${'w'.repeat(900)}`);
  expect(run.status).toBe(404);
  expect(run.body.field).toBe('workflowId');

  const huge = await h.request('GET', `/v1/runs/${'w'.repeat(1001)}`);
  expect(huge.status).toBe(414);
  expect(huge.body).toMatchObject({ error: 'uri_too_long', field: 'path' });
  expect(String(huge.body.message)).toMatch(/longer than 1000 characters/);
});
