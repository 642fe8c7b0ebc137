import { sha256Hex } from '../../lib/ingest/chunk.js';
import { ingestionWorkflowId } from '../../workflows/ingestion-contract.js';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { gate } from '../helpers/gate.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { finishedIngestion, type Ingestion } from '../ingest/status.js';
import { documentPart, documentWith, extractionScript } from '../ingest/script.js';

/**
 * Each kind of activity work has a task queue and slots of its own (workflows/task-queues.ts,
 * `[worker]`): with every background slot held by ingestion LLM calls, a chat message is answered.
 * The slots are set small (2) so that, were the ingestion's calls on the chat's queue, they would
 * take every slot the reply needs.
 */
const SLOTS = 2;
let h: Harness;
beforeAll(async () => {
  h = await createHarness({ toml: `\n[worker]\nbackground_slots = ${SLOTS}\nmain_activity_slots = ${SLOTS}\nllm_slots = ${SLOTS}\ndelivery_slots = ${SLOTS}\n` });
}, 300_000);
afterAll(async () => {
  await h?.close();
});

const held = gate();
const heldCalls = new Set<string>();

function script(req: NeutralRequest): ScriptStep | Promise<ScriptStep> {
  const part = documentPart(req);
  if (part !== undefined) {
    heldCalls.add(part.slice(0, 40));
    return held.promise.then(() => extractionScript(req));
  }
  return { toolCalls: [{ name: 'reply', input: { text: `answered: ${req.lastUserText}` } }] };
}

async function ingestion(id: string): Promise<Ingestion | undefined> {
  const res = await h.request('GET', `/v1/agents/main/ingest/${id}`);
  return res.body.ingestion as Ingestion | undefined;
}

/** The task queue of every activity the workflow scheduled, by activity type. */
async function queuesOf(workflowId: string): Promise<Record<string, string[]>> {
  const history = await h.env.client.workflow.getHandle(workflowId).fetchHistory();
  const queues: Record<string, string[]> = {};
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a?.activityType?.name) continue;
    (queues[a.activityType.name] ??= []).push(a.taskQueue?.name ?? '');
  }
  return queues;
}

test('a busy background queue cannot delay a chat reply', async () => {
  h.fake.script(script);
  const q = h.config.temporal.taskQueue;
  // One more ingestion than there are background slots: every slot held, one waiting.
  const ids: string[] = [];
  for (let i = 0; i < SLOTS + 1; i++) {
    const text = documentWith(1, `busy${i}`);
    const res = await h.request('POST', '/v1/agents/main/ingest', { filename: `busy${i}.md`, content: text });
    expect(res.status).toBe(202);
    ids.push(sha256Hex(Buffer.from(text)));
  }
  await eventually(() => (heldCalls.size >= SLOTS ? true : undefined), 60_000, 'every background slot held by an extraction call');

  // A chat reply needs an LLM call and its bookkeeping: none of it waits for the background.
  const reply = await h.request('POST', '/v1/agents/main/conversations/busy-chat/messages', { text: 'are you there?', wait: true });
  expect(reply.status).toBe(200);
  expect((reply.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['answered: are you there?']);
  // ...while the background work is still held.
  expect(heldCalls.size).toBe(SLOTS);
  for (const id of ids) expect(['queued', 'running']).toContain((await ingestion(id))?.status);

  const chat = await queuesOf('channel:main:webhook:busy-chat');
  expect(chat.callModel).toEqual([`${q}-llm`]);

  held.open();
  for (const id of ids) expect(await finishedIngestion(h, id, 90_000)).toMatchObject({ status: 'done', memoriesSaved: 1 });
  const ingest = await queuesOf(ingestionWorkflowId('main', ids[0]!));
  expect(new Set(Object.values(ingest).flat())).toEqual(new Set([`${q}-background`]));
  expect(Object.keys(ingest)).toEqual(expect.arrayContaining(['prepareIngestion', 'ingestChunk', 'finishIngestion']));
}, 400_000);
