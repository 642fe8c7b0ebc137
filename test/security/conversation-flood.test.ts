import { WEBHOOK_PLATFORM } from '../../adapters/webhook.js';
import type { InboundAdapter, InboundEvent, InboundSink } from '../../adapters/inbound.js';
import { ChannelClient } from '../../lib/channel/channel-client.js';
import { InboundBodies } from '../../lib/channel/inbound-bodies.js';
import { Gateway } from '../../lib/gateway/gateway.js';
import { createLogger } from '../../lib/logger.js';
import { channelWorkflowId } from '../../workflows/channel-contract.js';
import { createHarness, eventually, TEST_TOKEN, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';

/**
 * Issue 14, finding 2: a conversation cannot be killed by its own traffic. A burst of valid large
 * messages used to put every body into update payloads and the workflow's `pending` state until its
 * workflow task failed with GRPC_MESSAGE_TOO_LARGE for good. Bodies are now stored at intake and
 * only ids travel through Temporal; the pending queue is bounded (429 + Retry-After past it) and the
 * gateway backs off on a full queue instead of dropping the message.
 */

const MAX_PENDING = 10;
let h: Harness;
beforeAll(async () => {
  // Continue-as-new every 2 turns: the burst also carries a full queue into the next run.
  h = await createHarness({ toml: `max_pending_messages = ${MAX_PENDING}\ncontinue_as_new_after_turns = 2` });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.fake.reset());

const messagesOf = (conversation: string) => `/v1/agents/main/conversations/${conversation}/messages`;
const channelOf = (conversation: string) => channelWorkflowId({ agentId: 'main', platform: WEBHOOK_PLATFORM, conversationId: conversation });

/** A POST that keeps the response headers (Retry-After). */
async function post(conversation: string, body: Record<string, unknown>) {
  const res = await fetch(h.baseUrl + messagesOf(conversation), {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

async function transcript(conversation: string): Promise<{ direction: string; messageId: string; text: string }[]> {
  const res = await h.request('GET', `${messagesOf(conversation)}?limit=500`);
  return res.body.messages as { direction: string; messageId: string; text: string }[];
}

/** Every string in the histories of all of a workflow's runs, payloads decoded (JSON in UTF-8 without a codec). */
async function historyText(workflowId: string): Promise<{ runs: number; text: string }> {
  const parts: string[] = [];
  let runs = 0;
  const walk = (v: unknown, depth: number): void => {
    if (depth > 40 || v === null || v === undefined) return;
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (typeof v === 'object') for (const x of Object.values(v)) walk(x, depth + 1);
  };
  for await (const run of h.env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    runs++;
    walk(await h.env.client.workflow.getHandle(workflowId, run.runId).fetchHistory(), 0);
  }
  return { runs, text: parts.join('\n') };
}

/** Runs `fn` over `items`, `limit` at a time. */
async function inParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i] as T);
      }
    }),
  );
  return results;
}

test('60 messages of ~96 KB, 6 at a time, leave the conversation answering, with no body in the workflow history', async () => {
  h.fake.script(() => ({ text: 'Answered.', delayMs: 3000 }));
  // 31,990 characters of a 3-byte character: under the 32,000-character limit, ~96 KB each.
  const bodies = Array.from({ length: 60 }, (_, i) => `FLOOD-${String(i).padStart(2, '0')} ${'€'.repeat(31_980)}`);
  const idOf = (i: number) => `flood-${String(i).padStart(2, '0')}`;
  const results = await inParallel([...bodies.keys()], 6, (i) => post('flood', { text: bodies[i], messageId: idOf(i) }));

  const statuses = results.map((r) => r.status);
  expect(statuses.filter((s) => s !== 202 && s !== 429)).toEqual([]);
  const refused = results.filter((r) => r.status === 429);
  // The queue holds at most MAX_PENDING: a burst of 60 during a 3 s turn is refused in part, and says when to retry.
  expect(refused.length).toBeGreaterThan(0);
  for (const r of refused) {
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(r.body).toMatchObject({ error: 'rate_limited', field: 'conversation' });
    expect(String(r.body.message)).toMatch(/messages waiting to be answered \(the limit is 10\)/);
  }

  // The conversation still answers (a client told to retry does so after Retry-After, a bounded number of times).
  let next = await post('flood', { text: 'still there?', messageId: 'flood-next', wait: 120_000 });
  for (let tries = 0; next.status === 429 && tries < 10; tries++) {
    await new Promise((r) => setTimeout(r, Number(next.retryAfter) * 1000));
    next = await post('flood', { text: 'still there?', messageId: 'flood-next', wait: 120_000 });
  }
  expect(next.status).toBe(200);
  expect(next.body).toMatchObject({ status: 'completed', replies: [expect.objectContaining({ text: 'Answered.' })] });

  // Nothing accepted was lost: every 202'd message is in the transcript with its whole body.
  const accepted = [...bodies.keys()].filter((i) => results[i]?.status === 202);
  const inbound = new Map((await transcript('flood')).filter((m) => m.direction === 'inbound').map((m) => [m.messageId, m.text]));
  for (const i of accepted) expect(inbound.get(idOf(i))).toBe(bodies[i]);

  // Only ids travelled through Temporal.
  const { runs, text: history } = await historyText(channelOf('flood'));
  expect(runs).toBeGreaterThan(1);
  expect(history).toContain('flood-00');
  expect(history).not.toContain('FLOOD-');
  expect(history).not.toContain('€€€€€€€€');
  // The intake copies of answered bodies are gone once they are in the transcript.
  const left = await h.database.db.withTables<{ inbound_bodies: { channel_id: string; message_id: string } }>().selectFrom('inbound_bodies').select('message_id').where('channel_id', '=', channelOf('flood')).where('message_id', 'in', [...accepted.map(idOf), 'flood-next']).execute();
  expect(left).toEqual([]);
});

test('a gateway message refused for a full queue is retried with backoff, then answered', async () => {
  // The first turn holds the conversation for 8 s: the queue fills behind it.
  let calls = 0;
  h.fake.script(() => ({ text: `Reply ${++calls}.`, delayMs: calls === 1 ? 8000 : 500 }));
  expect((await post('flood-gw', { text: 'start', messageId: 'gw-start' })).status).toBe(202);
  await eventually(() => (calls >= 1 ? true : undefined), 30_000, 'the first turn to call the model');
  for (let i = 0; i < MAX_PENDING; i++) expect((await post('flood-gw', { text: `queued ${i}`, messageId: `gw-q${i}` })).status).toBe(202);

  // Past the bound: 429 with Retry-After, and nothing reached the workflow.
  const over = await post('flood-gw', { text: 'one too many', messageId: 'gw-over' });
  expect(over.status).toBe(429);
  expect(Number(over.retryAfter)).toBeGreaterThanOrEqual(1);

  // The same conversation from a chat platform, through the gateway's retrying submit.
  let sink: InboundSink | undefined;
  const adapter: InboundAdapter = {
    kind: 'test',
    instance: 'flood',
    start: async (s) => {
      sink = s;
    },
    stop: async () => undefined,
    status: () => ({ kind: 'test', instance: 'flood', state: 'connected', since: new Date().toISOString() }),
    outbound: { platform: 'test', send: async () => ({ platformMessageIds: [] }) } as unknown as InboundAdapter['outbound'],
  };
  const client = new ChannelClient(h.env.client, h.config, new InboundBodies(h.database.db));
  const attempts: number[] = [];
  const gateway = new Gateway({
    config: h.config,
    channels: { submit: (options) => (attempts.push(Date.now()), client.submit(options)) },
    logger: createLogger('flood-test', 'silent'),
    adapters: [adapter],
    retry: { initialMs: 50, maxMs: 200 },
  });
  await gateway.start();
  try {
    const event: InboundEvent = {
      kind: 'test',
      instance: 'flood',
      platform: WEBHOOK_PLATFORM,
      conversationId: 'flood-gw',
      messageId: 'gw-platform-1',
      text: 'from the platform',
      sender: { id: 'u1', isBot: false },
      mentioned: false,
      coordinates: { isDirect: true } as InboundEvent['coordinates'],
      receivedAt: new Date().toISOString(),
    };
    // The sink does not wait out a full conversation (the adapter goes on with other chats): the
    // message waits in the conversation's lane, retried there a bounded number of times.
    await sink?.(event);
    await eventually(async () => ((await transcript('flood-gw')).some((m) => m.messageId === 'gw-platform-1') ? true : undefined), 60_000, 'the waiting message to be accepted');
  } finally {
    await gateway.stop();
  }
  // Refused at first (the queue was full), then accepted: retried, not dropped ...
  expect(attempts.length).toBeGreaterThanOrEqual(2);
  // ... and not hot: each retry waited at least the conversation's Retry-After (5 s), though the policy says 50-200 ms.
  for (let i = 1; i < attempts.length; i++) expect((attempts[i] as number) - (attempts[i - 1] as number)).toBeGreaterThanOrEqual(4000);

  const answered = await eventually(
    async () => {
      const t = await transcript('flood-gw');
      const at = t.findIndex((m) => m.messageId === 'gw-platform-1');
      return at >= 0 && t.slice(at + 1).some((m) => m.direction === 'outbound') ? t : undefined;
    },
    60_000,
    'the gateway message to be answered',
  );
  expect(answered.find((m) => m.messageId === 'gw-platform-1')?.text).toBe('from the platform');
  // Replay fixture of the intake without bodies: text-less messages, a full queue, continue-as-new with pending ids.
  await recordHistories(h.env, channelOf('flood-gw'), 'conversation-queue-full');
});
