import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../lib/logger.js';
import type { NeutralRequest, ScriptStep } from '../fake-llm/server.js';
import { TEST_TOKEN, createHarness, eventually, type Harness } from '../helpers/harness.js';

/**
 * Secrets never leave (issue 13, finding 4), end to end on the real worker, dev server, PGlite and
 * the fake LLM: a worker's shell prints a file holding the configured Anthropic key, an AWS key, a
 * PEM private key and a JWT; none of them reaches the model (the fake's recorded requests), the
 * transcript, the runs API, the workflow histories or the context rows. Then the channel's model
 * answers with the API token in its text: the reply is streamed and delivered redacted, and the
 * event is logged without the token.
 */

const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
const wfId = (c: string) => `channel:main:webhook:${c}`;

// Fake credentials; the Anthropic one is the harness's configured key, read from the config below.
const AWS_KEY = 'AKIAZ7QWERTYUIOP1234';
const PEM_BODY = 'MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgwMbRvI0MBZhpI';
const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}\n-----END RSA PRIVATE KEY-----`;
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzcGFjZWJvdC10ZXN0In0.c2lnbmF0dXJlLW9mLWEtdGVzdC1qd3Q';

let h: Harness;
let anthropicKey: string;
const logLines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  h = await createHarness({ logger: createLogger('secret-leaks', 'info', sink) });
  anthropicKey = h.config.providers.anthropic.apiKey!;
  const workspace = h.config.agents[0]!.workspace;
  mkdirSync(path.join(workspace, 'secrets'), { recursive: true });
  writeFileSync(path.join(workspace, 'secrets', 'key.txt'), `ANTHROPIC_API_KEY=${anthropicKey}\naws_access_key_id=${AWS_KEY}\n${PEM}\nsession=${JWT}\n`);
});
afterAll(() => h?.close());

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const toolResults = (req: NeutralRequest) => req.messages.flatMap((m) => m.toolResults ?? []);
const lastIsToolResult = (req: NeutralRequest) => {
  const [before, last] = req.messages.slice(-2);
  return last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>') && before?.role === 'tool');
};

/** The secrets found in `text`, by name (empty when clean). */
function leaked(text: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets).flatMap(([name, value]) => (text.includes(value) ? [name] : []));
}

/** A workflow history as text, every payload decoded (JSON in UTF-8; the SDK's JSON form holds it as base64). */
async function historyText(workflowId: string): Promise<string> {
  const history = await h.env.client.workflow.getHandle(workflowId).fetchHistory();
  const decode = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(decode);
    if (!value || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    if ('metadata' in obj && 'data' in obj) {
      const data = obj.data;
      return { ...obj, data: data instanceof Uint8Array ? Buffer.from(data).toString('utf8') : typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : data };
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, decode(v)]));
  };
  return JSON.stringify(decode(JSON.parse(JSON.stringify(history))));
}

/** Reads the webhook conversation's SSE stream (deltas and done) while the test runs. */
async function streamEvents(conversation: string): Promise<{ events: { event: string; data: Record<string, unknown> }[]; close: () => Promise<void> }> {
  const abort = new AbortController();
  const res = await fetch(`${h.baseUrl}${conv(conversation)}/messages/stream`, { headers: { authorization: `Bearer ${TEST_TOKEN}`, accept: 'text/event-stream' }, signal: abort.signal });
  expect(res.status).toBe(200);
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const reading = (async () => {
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
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  await eventually(() => (events.some((e) => e.event === 'ready') ? true : undefined), 10_000, 'the stream to be ready');
  return {
    events,
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

test('secrets a worker’s shell prints, and the API token in a reply, reach no model, transcript, timeline, history, context row or log', async () => {
  const finalAnswer = `All done: the file is read. For the API, use the token ${TEST_TOKEN} in the header; keep it to yourself.`;
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) {
      if (toolResults(req).length === 0) return { toolCalls: [{ name: 'shell', input: { command: 'cat secrets/key.txt' } }] };
      return { toolCalls: [{ name: 'set_status', input: { status: 'read secrets/key.txt', done: true } }] };
    }
    // Streamed in small pieces, so the token is split across deltas.
    if (req.lastUserText.includes('[Worker worker/1 completed]')) return { text: finalAnswer, chunkDelayMs: 2 };
    if (lastIsToolResult(req)) return { toolCalls: [{ name: 'skip', input: {} }] };
    return { toolCalls: [{ name: 'reply', input: { text: 'Reading the file.' } }, { name: 'spawn_worker', input: { task: 'Print secrets/key.txt.' } }] };
  });

  const sse = await streamEvents('leak-1');
  try {
    const posted = await h.request('POST', `${conv('leak-1')}/messages`, { text: 'please read secrets/key.txt', wait: true });
    // 202 when the turn outlasts the wait on a loaded machine; the stream tells when the reply is out.
    expect([200, 202]).toContain(posted.status);
    const done = await eventually(() => sse.events.find((e) => e.event === 'done' && String(e.data.text).startsWith('All done')), 150_000, 'the final reply');

    // The worker's shell did print the file: its model saw the output, redacted and labelled.
    const workerCalls = h.fake.requests.filter((r) => r.neutral && isWorker(r.neutral));
    const shellOutput = workerCalls.flatMap((r) => toolResults(r.neutral!)).map((t) => t.text).join('\n');
    expect(shellOutput).toContain('ANTHROPIC_API_KEY=[redacted: configured secret');
    expect(shellOutput).toContain('[redacted: aws access key]');
    expect(shellOutput).toContain('[redacted: private key]');
    expect(shellOutput).toContain('[redacted: jwt]');

    const secrets = { anthropicKey, awsKey: AWS_KEY, privateKey: PEM_BODY, jwt: JWT };
    const withToken = { ...secrets, apiToken: TEST_TOKEN };
    // Nothing secret in any request body sent to the provider (its key is in the auth header, as it must be).
    expect(leaked(JSON.stringify(h.fake.requests.map((r) => r.body)), withToken)).toEqual([]);

    // The reply went out redacted: streamed deltas, the done event, the transcript.
    // The final answer is the model's plain text (key `text`); the first reply was a `reply` tool call.
    const deltas = sse.events.filter((e) => e.event === 'delta' && e.data.key === 'text').map((e) => String(e.data.text));
    expect(deltas.length).toBeGreaterThan(3);
    expect(leaked(JSON.stringify(sse.events), withToken)).toEqual([]);
    const redactedAnswer = finalAnswer.replace(TEST_TOKEN, '[redacted: configured secret server.apiToken]');
    expect(done.data.text).toBe(redactedAnswer);
    expect(deltas.join('')).toBe(redactedAnswer);
    const transcript = await h.request('GET', `${conv('leak-1')}/messages`);
    expect(leaked(JSON.stringify(transcript.body), withToken)).toEqual([]);
    expect((transcript.body.messages as { direction: string; text: string }[]).filter((m) => m.direction === 'outbound').map((m) => m.text)).toEqual(['Reading the file.', redactedAnswer]);

    // The runs API of the channel and the worker.
    for (const id of [wfId('leak-1'), `${wfId('leak-1')}/worker/1`]) {
      const run = await h.request('GET', `/v1/runs/${encodeURIComponent(id)}`);
      expect(run.status).toBe(200);
      expect(leaked(JSON.stringify(run.body), withToken)).toEqual([]);
    }
    const workerRun = await h.request('GET', `/v1/runs/${encodeURIComponent(`${wfId('leak-1')}/worker/1`)}`);
    expect(JSON.stringify(workerRun.body)).toContain('[redacted: aws access key]');

    // The workflow histories: the tool result travelled as an activity result, already redacted; so did
    // the model's answer with the token in it (the LLM activity's result, and the delivery's input).
    for (const id of [wfId('leak-1'), `${wfId('leak-1')}/worker/1`]) expect(leaked(await historyText(id), withToken)).toEqual([]);
    expect(await historyText(`${wfId('leak-1')}/worker/1`)).toContain('[redacted: private key]');

    // The context rows every later model call is built from.
    const rows = await h.database.db.selectFrom('context_entries').select(['channel_id', 'content']).execute();
    expect(rows.some((r) => r.channel_id === `${wfId('leak-1')}/worker/1`)).toBe(true);
    expect(leaked(JSON.stringify(rows), withToken)).toEqual([]);

    // The redaction was logged where it happened (the model's answer, before it was stored or delivered),
    // naming the kind and never the value; no log line holds a secret.
    const warned = await eventually(
      () => logLines.map((l) => JSON.parse(l) as { level: number; msg: string; kinds?: string[] }).find((l) => l.msg === 'a model answer held secrets; stored redacted'),
      10_000,
      'the warning',
    );
    expect(warned).toMatchObject({ level: 40, kinds: ['configured secret server.apiToken'] });
    expect(leaked(logLines.join(''), withToken)).toEqual([]);
  } finally {
    await sse.close();
  }
  // A worker, two model turns and a shell command on a shared two-core machine: generous on purpose.
}, 300_000);
