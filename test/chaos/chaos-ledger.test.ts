import { chaosAgent } from '../../bench/chaos/fake-agent.js';
import { Ledger } from '../../bench/chaos/ledger.js';
import type { NeutralRequest } from '../../test/fake-llm/server.js';

/** The chaos run's own bookkeeping: it must neither lose nor double-count what it saw. */

function request(messages: NeutralRequest['messages'], tools = ['reply', 'skip']): NeutralRequest {
  return { provider: 'anthropic', model: 'm', system: '', messages, tools, stream: false, lastUserText: '', estimatedInputTokens: 0, body: {} };
}

test('a reply naming two messages answers each once; a second reply naming one of them makes it doubled', () => {
  const ledger = new Ledger();
  ledger.recordSent({ tag: 'cx-1-1', conversation: 1, via: 'telegram', sentAt: 1_000 });
  ledger.recordSent({ tag: 'cx-1-2', conversation: 1, via: 'telegram', sentAt: 2_000 });
  ledger.recordSent({ tag: 'cx-1-3', conversation: 1, via: 'telegram', sentAt: 3_000 });
  ledger.recordReply('telegram', 1, 'ack cx-1-1 cx-1-2', 4_000);
  ledger.recordReply('telegram', 1, 'ack cx-1-2', 9_000);
  const counts = ledger.counts();
  expect({ sent: counts.sent, once: counts.answeredOnce, lost: counts.lost, doubled: counts.doubled, worst: counts.worstAnswerMs }).toEqual({ sent: 3, once: 1, lost: 1, doubled: 1, worst: 3_000 });
  expect(ledger.unanswered().map((m) => m.tag)).toEqual(['cx-1-3']);
});

test('a reply in another conversation, or to an id never sent, is stray and answers nothing', () => {
  const ledger = new Ledger();
  ledger.recordSent({ tag: 'cx-1-1', conversation: 1, via: 'telegram', sentAt: 0 });
  ledger.recordReply('telegram', 2, 'ack cx-1-1', 10);
  ledger.recordReply('api', 1, 'ack cx-1-1', 10);
  ledger.recordReply('telegram', 1, 'ack cx-9-9', 10);
  expect(ledger.counts()).toMatchObject({ answeredOnce: 0, lost: 1, strayReplies: 3 });
});

test('an API message no process accepted is reported as not accepted, not as lost', () => {
  const ledger = new Ledger();
  ledger.recordSent({ tag: 'cx-5-1', conversation: 5, via: 'api', sentAt: 0 });
  ledger.recordSent({ tag: 'cx-5-2', conversation: 5, via: 'api', sentAt: 0, acceptedAt: 5 });
  expect(ledger.counts()).toMatchObject({ lost: 1, notAccepted: 1 });
  expect(() => ledger.recordSent({ tag: 'cx-5-1', conversation: 5, via: 'api', sentAt: 1 })).toThrow('sent twice');
});

test('the fake model answers the ids it has not answered yet, and skips when there are none', () => {
  const turn = chaosAgent(
    request([
      { role: 'user', text: 'message cx-3-1' },
      { role: 'assistant', text: '', toolCalls: [{ id: 't1', name: 'reply', input: { text: 'ack cx-3-1' } }] },
      { role: 'tool', text: '', toolResults: [{ toolCallId: 't1', text: 'sent' }] },
      { role: 'user', text: 'message cx-3-2' },
      { role: 'user', text: 'message cx-3-3' },
    ]),
  );
  expect(turn).toEqual({ toolCalls: [{ name: 'reply', input: { text: expect.stringMatching(/^ack (cx-3-3 cx-3-2|cx-3-2 cx-3-3)$/) } }] });
  const after = chaosAgent(request([{ role: 'user', text: 'message cx-3-1' }, { role: 'assistant', text: '', toolCalls: [{ id: 't1', name: 'reply', input: {} }] }, { role: 'tool', text: '' }]));
  expect(after).toEqual({ toolCalls: [{ name: 'skip', input: {} }] });
});
