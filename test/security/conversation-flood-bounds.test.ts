import { ApplicationFailure } from '@temporalio/common';
import {
  MAX_ENVELOPE_BYTES,
  MAX_MESSAGE_ID_CHARS,
  MAX_PENDING_MESSAGES_LIMIT,
  QUEUE_FULL_FAILURE,
  type ChannelState,
  type InboundMessage,
} from '../../workflows/channel-contract.js';
import { refuseWhenQueueFull, utf8Length, validateInbound } from '../../workflows/inbound-validation.js';
import { DEFAULT_CHANNEL_SETTINGS } from '../../workflows/channel-settings.js';
import { configFileSchema } from '../../lib/config/schema.js';
import { CARRIED_RECORD_BYTES, carriedProcesses } from '../../workflows/carried-processes.js';
import type { ProcessRecord } from '../../workflows/process-contract.js';

/**
 * Issue 14, finding 2: the channel's continue-as-new input is bounded by construction. Whatever the
 * validator lets in, a full queue plus the remembered ids stays far below Temporal's 2 MB payload
 * limit (and the 4 MB gRPC message limit a workflow task must fit).
 */

/** workflows/channel.ts SEEN_LIMIT: message ids remembered across runs for deduplication. */
const SEEN_LIMIT = 2000;
const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;

/** The largest message the validator accepts: longest id, and a sender name grown until it is refused. */
function largestAcceptedEnvelope(n: number): InboundMessage {
  const id = `${n}`.padStart(MAX_MESSAGE_ID_CHARS, 'x');
  const base: InboundMessage = { messageId: id, bodyStored: true, receivedAt: new Date(0).toISOString(), isDirect: false, autonomy: 'full', sender: { id, name: '' } };
  let name = '';
  for (;;) {
    const bigger = { ...base, sender: { id, name: `${name}€` } };
    try {
      validateInbound(bigger);
    } catch {
      return { ...base, sender: { id, name } };
    }
    name += '€';
  }
}

test('validateInbound: a text-less message needs bodyStored, and its envelope and id are bounded', () => {
  expect(() => validateInbound({ messageId: 'a', receivedAt: '' })).toThrow(/bodyStored/);
  expect(() => validateInbound({ messageId: 'a', bodyStored: true, receivedAt: '' })).not.toThrow();
  expect(() => validateInbound({ messageId: 'a'.repeat(MAX_MESSAGE_ID_CHARS + 1), bodyStored: true, receivedAt: '' })).toThrow(/messageId is longer/);
  expect(() => validateInbound({ messageId: 'a', bodyStored: true, receivedAt: '', sender: { id: 'u', name: '€'.repeat(MAX_ENVELOPE_BYTES) } })).toThrow(/larger than/);
  // Messages recorded before bodies were stored still carry their text, and are still accepted.
  expect(() => validateInbound({ messageId: 'a', text: 'hello', receivedAt: '' })).not.toThrow();
});

test('refuseWhenQueueFull refuses at the limit with the failure type the intake maps to 429', () => {
  expect(() => refuseWhenQueueFull(9, 10)).not.toThrow();
  let caught: unknown;
  try {
    refuseWhenQueueFull(10, 10);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ApplicationFailure);
  expect((caught as ApplicationFailure).type).toBe(QUEUE_FULL_FAILURE);
});

test('the continue-as-new input of a channel with a full queue of the largest messages stays far below the payload limit', () => {
  // The config cannot raise the queue past MAX_PENDING_MESSAGES_LIMIT.
  expect(configFileSchema.safeParse({ defaults: { max_pending_messages: MAX_PENDING_MESSAGES_LIMIT } }).success).toBe(true);
  expect(configFileSchema.safeParse({ defaults: { max_pending_messages: MAX_PENDING_MESSAGES_LIMIT + 1 } }).success).toBe(false);
  const largest = largestAcceptedEnvelope(0);
  const pending = Array.from({ length: MAX_PENDING_MESSAGES_LIMIT }, (_, i) => ({ ...largest, messageId: `${i}`.padStart(MAX_MESSAGE_ID_CHARS, 'x') }));
  expect(utf8Length(JSON.stringify(pending[0]))).toBeGreaterThan(MAX_ENVELOPE_BYTES - 8);
  const state: ChannelState = {
    agentId: 'a'.repeat(63),
    platform: 'webhook',
    conversationId: 'c'.repeat(200),
    turnSeq: 1_000_000,
    seen: Array.from({ length: SEEN_LIMIT }, (_, i) => `${i}`.padStart(MAX_MESSAGE_ID_CHARS, 'y')),
    pending,
    continueAsNewAfterTurns: 500,
    maxLlmCallsPerTurn: 50,
    settings: { ...DEFAULT_CHANNEL_SETTINGS, toolsTaskQueue: 'q', maxPendingMessages: MAX_PENDING_MESSAGES_LIMIT },
  };
  const bytes = Buffer.byteLength(JSON.stringify(state), 'utf8');
  expect(bytes).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 2);
});

test('issue 15: with the most processes the config allows and hostile texts, the continue-as-new input stays below the payload limit', () => {
  // Every slot taken (max_branches and max_workers are at most 50 each), each record with the longest
  // task the channel accepts and an outcome of characters JSON escapes sixfold, plus many finished,
  // unreported ones: the carried list is bounded per record and in all (workflows/carried-processes.ts).
  const hostile = '\u0001'.repeat(200_000);
  const record = (kind: 'branch' | 'worker', n: number, state: ProcessRecord['state'], reported: boolean): ProcessRecord => ({
    id: `${'c'.repeat(270)}/${kind}/${n}`,
    kind,
    n,
    task: '\u0001'.repeat(8000),
    startedAt: new Date(0).toISOString(),
    state,
    toolCalls: 1_000_000,
    status: hostile,
    result: hostile,
    interactive: true,
    reported,
  });
  const processes = [
    ...Array.from({ length: 50 }, (_, i) => record('branch', i + 1, 'running', true)),
    ...Array.from({ length: 50 }, (_, i) => record('worker', i + 1, 'waiting', false)),
    ...Array.from({ length: 500 }, (_, i) => record('worker', 100 + i, 'completed', false)),
  ];
  const { carried, dropped } = carriedProcesses(processes);
  // Every running process goes on; finished ones while the budget lasts, newest first.
  expect(carried.filter((p) => p.state === 'running' || p.state === 'waiting')).toHaveLength(100);
  expect(dropped.length).toBeGreaterThan(0);
  expect(dropped).not.toContain(processes[processes.length - 1]!.id);
  for (const p of carried) expect(utf8Length(JSON.stringify(p))).toBeLessThanOrEqual(CARRIED_RECORD_BYTES);
  expect(carried[0]?.result).toMatch(/\[clipped: the whole text is the result of workflow c+\/branch\/1\]$/);

  const largest = largestAcceptedEnvelope(0);
  const state: ChannelState = {
    agentId: 'a'.repeat(63),
    platform: 'webhook',
    conversationId: 'c'.repeat(200),
    turnSeq: 1_000_000,
    seen: Array.from({ length: SEEN_LIMIT }, (_, i) => `${i}`.padStart(MAX_MESSAGE_ID_CHARS, 'y')),
    pending: Array.from({ length: MAX_PENDING_MESSAGES_LIMIT }, (_, i) => ({ ...largest, messageId: `${i}`.padStart(MAX_MESSAGE_ID_CHARS, 'x') })),
    continueAsNewAfterTurns: 500,
    maxLlmCallsPerTurn: 50,
    settings: { ...DEFAULT_CHANNEL_SETTINGS, toolsTaskQueue: 'q', maxPendingMessages: MAX_PENDING_MESSAGES_LIMIT },
    processes: carried,
    processSeq: 1_000_000,
  };
  expect(Buffer.byteLength(JSON.stringify(state), 'utf8')).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT * 0.8);
});
