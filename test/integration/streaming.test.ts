/**
 * Streaming end to end on the Temporal dev server, PGlite and the fake LLM behind the real SDKs:
 * the webhook's SSE route (deltas, reset on a retried call, done; the transcript holds the answer
 * once), a platform that edits in place (one send, then edits, finalised by edit, no second message
 * after an activity retry), and an agent with streaming turned off.
 */
import type { OutboundAdapter, OutboundMessage, SentMessage } from '../../adapters/outbound.js';
import { ChannelClient } from '../../lib/channel/channel-client.js';
import { channelWorkflowId } from '../../workflows/channel-contract.js';
import type { NeutralRequest, ScriptStep } from '../fake-llm/server.js';
import { TEST_TOKEN, createHarness, eventually, type Harness } from '../helpers/harness.js';
import { words } from '../helpers/words.js';

/** A chat platform that edits messages in place, recording every call (the real ones are Discord, Slack, Telegram). */
class EditingPlatform implements OutboundAdapter {
  readonly platform = 'fakechat';
  readonly minEditIntervalMs = 1_000;
  readonly maxMessageChars = 4_000;
  readonly calls: ({ op: 'send'; text: string; id: string } | { op: 'edit'; text: string; id: string })[] = [];
  private next = 0;

  async send(message: OutboundMessage): Promise<SentMessage> {
    const id = `pm-${++this.next}`;
    this.calls.push({ op: 'send', text: message.text, id });
    return { platformMessageId: id };
  }

  async edit(_conversationId: string, platformMessageId: string, text: string): Promise<void> {
    this.calls.push({ op: 'edit', text, id: platformMessageId });
  }
}

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** A client of the SSE route, reading events as they arrive. */
class SseClient {
  readonly events: SseEvent[] = [];
  private readonly abort = new AbortController();
  private done: Promise<void> = Promise.resolve();

  async connect(url: string): Promise<void> {
    const res = await fetch(url, { headers: { authorization: `Bearer ${TEST_TOKEN}`, accept: 'text/event-stream' }, signal: this.abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    this.done = (async () => {
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) this.events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
          }
        }
      } catch {
        // aborted by close()
      }
    })();
    await eventually(async () => (this.events.some((e) => e.event === 'ready') ? true : undefined), 10_000, 'the stream to be ready');
  }

  of(...names: string[]): SseEvent[] {
    return this.events.filter((e) => names.includes(e.event));
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

let h: Harness;
const platform = new EditingPlatform();
/** Replies by the user's text; a list is consumed call by call (the last entry repeats). */
const script = new Map<string, ScriptStep[]>();

beforeAll(async () => {
  h = await createHarness({
    toml: '[[agents]]\nid = "main"\n\n[[agents]]\nid = "quiet"\nstreaming = false\n',
    outbound: [platform],
  });
  h.fake.script((req: NeutralRequest) => {
    const steps = script.get(req.lastUserText);
    if (!steps?.length) return { text: 'ok' };
    return steps.length > 1 ? (steps.shift() as ScriptStep) : (steps[0] as ScriptStep);
  });
});
afterAll(() => h?.close());

async function transcriptOutbound(conversation: string, agent = 'main'): Promise<string[]> {
  const res = await h.request('GET', `/v1/agents/${agent}/conversations/${conversation}/messages`);
  const messages = res.body.messages as { direction: string; text: string }[];
  return messages.filter((m) => m.direction === 'outbound').map((m) => m.text);
}

describe('webhook SSE', () => {
  it('streams deltas in order, then done, and the transcript holds the answer once', async () => {
    const answer = words(30, 'alpha');
    script.set('stream please', [{ text: answer, chunkDelayMs: 10 }]);
    const sse = new SseClient();
    await sse.connect(`${h.baseUrl}/v1/agents/main/conversations/sse-1/messages/stream`);
    try {
      const posted = await h.request('POST', '/v1/agents/main/conversations/sse-1/messages', { text: 'stream please', wait: true });
      expect(posted.status).toBe(200);
      const done = await eventually(async () => sse.of('done')[0], 20_000, 'a done event');
      const deltas = sse.of('delta');
      expect(deltas.length).toBeGreaterThan(5);
      expect(deltas.map((d) => d.data.text).join('')).toBe(answer);
      expect(deltas.every((d) => d.data.key === 'text' && d.data.turn === 1 && d.data.step === 1)).toBe(true);
      expect(sse.events.indexOf(done)).toBeGreaterThan(sse.events.indexOf(deltas.at(-1) as SseEvent));
      expect(done.data).toMatchObject({ turn: 1, step: 1, key: 'text', text: answer, kind: 'reply' });
      expect(sse.of('reset')).toEqual([]);
      expect(await transcriptOutbound('sse-1')).toEqual([answer]);
    } finally {
      await sse.close();
    }
  });

  it('tells the client to reset when the model call is retried, then streams the new answer', async () => {
    const answer = words(12, 'beta');
    // The only model fails mid-stream: the activity fails and Temporal retries it.
    script.set('retry please', [{ fault: 'stream_error', partialText: 'soon void' }, { text: answer, chunkDelayMs: 5 }]);
    const sse = new SseClient();
    await sse.connect(`${h.baseUrl}/v1/agents/main/conversations/sse-2/messages/stream`);
    try {
      await h.request('POST', '/v1/agents/main/conversations/sse-2/messages', { text: 'retry please' });
      const done = await eventually(async () => sse.of('done')[0], 30_000, 'a done event');
      const stream = sse.of('delta', 'reset');
      const reset = stream.findIndex((e) => e.event === 'reset');
      expect(reset).toBeGreaterThan(0);
      expect(stream.slice(0, reset).map((e) => e.data.text).join('')).toBe('soon void');
      expect(stream.slice(reset + 1).map((e) => e.data.text).join('')).toBe(answer);
      expect(stream[reset]?.data).toMatchObject({ turn: 1, step: 1 });
      expect(done.data).toMatchObject({ text: answer });
      expect(await transcriptOutbound('sse-2')).toEqual([answer]);
    } finally {
      await sse.close();
    }
  });

  it('streams nothing for an agent with streaming = false', async () => {
    script.set('quietly', [{ text: words(10, 'gamma'), chunkDelayMs: 5 }]);
    const sse = new SseClient();
    await sse.connect(`${h.baseUrl}/v1/agents/quiet/conversations/sse-3/messages/stream`);
    try {
      const before = h.fake.requests.length;
      await h.request('POST', '/v1/agents/quiet/conversations/sse-3/messages', { text: 'quietly', wait: true });
      const done = await eventually(async () => sse.of('done')[0], 20_000, 'a done event');
      expect(done.data.text).toBe(words(10, 'gamma'));
      expect(sse.of('delta', 'reset')).toEqual([]);
      const calls = h.fake.requests.slice(before).filter((r) => r.neutral?.lastUserText === 'quietly');
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.every((r) => r.neutral?.stream === false)).toBe(true);
    } finally {
      await sse.close();
    }
  });

  it('refuses without the token and names a bad conversation id', async () => {
    const anonymous = await fetch(`${h.baseUrl}/v1/agents/main/conversations/x/messages/stream`);
    expect(anonymous.status).toBe(401);
    const bad = await h.request('GET', '/v1/agents/main/conversations/bad%20id/messages/stream');
    expect(bad.status).toBe(400);
    const unknown = await h.request('GET', '/v1/agents/nobody/conversations/x/messages/stream');
    expect(unknown.status).toBe(404);
  });
});

describe('a platform that edits in place', () => {
  const channels = () => new ChannelClient(h.env.client, h.config);
  const key = (conversationId: string) => ({ agentId: 'main', platform: platform.platform, conversationId });

  async function deliveredTurn(conversationId: string, text: string): Promise<void> {
    await channels().submit({ ...key(conversationId), message: { messageId: `m-${conversationId}`, text, receivedAt: new Date().toISOString() }, waitMs: 60_000 });
    const channelId = channelWorkflowId(key(conversationId));
    await eventually(
      async () => {
        const row = await h.database.db.selectFrom('deliveries').select('status').where('channel_id', '=', channelId).executeTakeFirst();
        return row?.status === 'delivered' ? true : undefined;
      },
      30_000,
      'the delivery',
    );
  }

  it('posts one draft, edits it while the answer streams, and finalises it by edit', async () => {
    platform.calls.length = 0;
    const answer = words(40, 'delta');
    script.set('edit in place', [{ text: answer, chunkDelayMs: 60 }]);
    await deliveredTurn('chat-1', 'edit in place');
    const sends = platform.calls.filter((c) => c.op === 'send');
    const edits = platform.calls.filter((c) => c.op === 'edit');
    expect(sends).toHaveLength(1);
    expect(sends[0]?.text.length).toBeLessThan(answer.length);
    expect(answer.startsWith(sends[0]?.text ?? 'x')).toBe(true);
    expect(edits.length).toBeGreaterThanOrEqual(1);
    expect(edits.every((e) => e.id === sends[0]?.id)).toBe(true);
    expect(platform.calls.at(-1)).toEqual({ op: 'edit', text: answer, id: sends[0]?.id });
    expect(platform.calls.filter((c) => c.text === answer)).toHaveLength(1);
    const outbound = await h.database.db.selectFrom('deliveries').select(['platform_message_id', 'status']).where('channel_id', '=', channelWorkflowId(key('chat-1'))).execute();
    expect(outbound).toEqual([{ platform_message_id: sends[0]?.id, status: 'delivered' }]);
  });

  it('reuses the draft after an activity retry: no second message', async () => {
    platform.calls.length = 0;
    const answer = words(30, 'epsilon');
    // Long enough to be shown at once (1500 characters), then the stream fails and the activity is retried.
    script.set('fail then answer', [{ fault: 'stream_error', partialText: words(300, 'void') }, { text: answer, chunkDelayMs: 50 }]);
    await deliveredTurn('chat-2', 'fail then answer');
    const sends = platform.calls.filter((c) => c.op === 'send');
    expect(sends).toHaveLength(1);
    expect(sends[0]?.text.startsWith('void0 void1')).toBe(true);
    expect(platform.calls.every((c) => c.id === sends[0]?.id)).toBe(true);
    expect(platform.calls.some((c) => c.op === 'edit' && c.text === '…')).toBe(true);
    expect(platform.calls.at(-1)).toEqual({ op: 'edit', text: answer, id: sends[0]?.id });
  });
});
