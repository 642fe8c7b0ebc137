import type { ScriptStep, NeutralRequest } from '../fake-llm/script.js';
import type { Harness } from './harness.js';
import type { WorkerProcess } from './worker-process.js';

/**
 * The failover scenario shared by test/integration/failover.test.ts (is every message answered?) and
 * bench/failover.ts (how fast?): conversations spread over two worker processes, one killed -9, and a
 * message to each conversation.
 */

/** A message's text: one token, so the fake model can find it among whatever else a request holds. */
export const messageText = (conversation: string, label: string) => `msg:${conversation}:${label}`;

/**
 * The fake model answers with the newest message token in the request's messages, so a reply names
 * the message it answers (a request without one says what it held, for the failure message).
 */
export function echoScript(req: NeutralRequest): ScriptStep {
  const messages = JSON.stringify(req.body['messages'] ?? req.body['input'] ?? req.messages);
  const tokens = messages.match(/msg:[\w:.-]+/g) ?? [];
  const newest = tokens[tokens.length - 1];
  return { toolCalls: [{ name: 'reply', input: { text: newest ? `answered: ${newest}` : `(no message in ${messages.slice(0, 400)})` } }] };
}

export interface Answer {
  conversation: string;
  text: string;
  status: number;
  replies: string[];
  /** POST to response. */
  ms: number;
}

export const conversationPath = (c: string) => `/v1/agents/main/conversations/${c}/messages`;
export const conversationWorkflowId = (c: string) => `channel:main:webhook:${c}`;

/**
 * One message to each conversation, all at once, each waiting up to `waitMs` (from its first POST)
 * for its reply. A 5xx is retried with the same message id while time is left, as a client does.
 */
export function sendToEach(h: Harness, conversations: readonly string[], label: string, waitMs: number): Promise<Answer[]> {
  return Promise.all(
    conversations.map(async (conversation) => {
      const text = messageText(conversation, label);
      const messageId = `${conversation}-${label}`;
      const started = performance.now();
      for (;;) {
        const left = Math.round(waitMs - (performance.now() - started));
        const res = await h.request('POST', conversationPath(conversation), { text, messageId, wait: Math.max(left, 1) });
        const replies = ((res.body.replies as { text: string }[] | undefined) ?? []).map((r) => r.text);
        const ms = performance.now() - started;
        if (res.status < 500 || ms >= waitMs) return { conversation, text, status: res.status, replies, ms };
      }
    }),
  );
}

/**
 * Warms every conversation: a message to each until each is answered (at most `attempts` rounds),
 * so each has a run cached on one of the workers. Returns the conversations never answered.
 */
export async function warm(h: Harness, conversations: readonly string[], label: string, attempts = 3): Promise<string[]> {
  let left = [...conversations];
  for (let i = 0; i < attempts && left.length; i++) {
    const answers = await sendToEach(h, left, `${label}-${i}`, 60_000);
    left = answers.filter((a) => !answered(a)).map((a) => a.conversation);
  }
  return left;
}

/**
 * Whether the message got its one reply. Not its text: with several processes on the harness's PGlite
 * (one session behind its socket server) statements of concurrent connections sometimes interleave
 * (a request then carries another conversation's rows, or fails: "bind message supplies 3 parameters,
 * but prepared statement requires 2"), with or without a kill; the text is checked by the
 * single-process tests.
 */
export const answered = (a: Answer) => a.status === 200 && a.replies.length === 1;

/**
 * The identity of the worker that completed the conversation's last workflow task: the worker that
 * has it cached, on whose sticky queue its next workflow task is put first.
 */
export async function stickyWorkerOf(h: Harness, conversation: string): Promise<string | undefined> {
  const history = await h.env.client.workflow.getHandle(conversationWorkflowId(conversation)).fetchHistory();
  const completed = (history.events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes);
  return completed[completed.length - 1]?.workflowTaskCompletedEventAttributes?.identity ?? undefined;
}

/** The SDK's default worker identity: `<pid>@<host>`. */
export const identityOf = (w: WorkerProcess) => `${w.child.pid}@`;

/** The worker process that holds the most of the conversations in its cache, and those conversations. */
export async function busiestWorker(h: Harness, workers: readonly WorkerProcess[], conversations: readonly string[]): Promise<{ worker: WorkerProcess; sticky: string[] }> {
  const owners = await Promise.all(conversations.map(async (c) => ({ c, identity: await stickyWorkerOf(h, c) })));
  const ranked = workers
    .map((worker) => ({ worker, sticky: owners.filter((o) => o.identity?.startsWith(identityOf(worker))).map((o) => o.c) }))
    .sort((a, b) => b.sticky.length - a.sticky.length);
  return ranked[0]!;
}
