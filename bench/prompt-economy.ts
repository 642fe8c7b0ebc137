/**
 * Prompt economy: how much of each turn's input is the cacheable prefix, and what a simple question
 * costs in fixed overhead (system prompt + tool definitions).
 *
 *   npx tsx bench/prompt-economy.ts
 *
 * A 20-turn scripted conversation is replayed through the real Anthropic provider (against the fake
 * LLM server, so no network and no key), building each turn's context as the channel stores it (the
 * model answers with the `reply` tool; its result is "Delivered."). For every turn the recorded
 * request body is measured: the cacheable prefix is everything up to and including the last
 * `cache_control` breakpoint (system, tools, the conversation before the newest user turn).
 *
 * Tokens are ESTIMATED as ceil(chars / 4) of each piece's JSON (system text, each tool definition,
 * each message content block, `cache_control` markers left out), the same estimate throughout; real
 * tokenizers differ by some tens of percent, the shares much less. Note that Anthropic caches only
 * prefixes of at least 1,024 tokens (Sonnet/Opus; more for Haiku), so a short prefix is cacheable
 * in shape but not yet cached in practice.
 *
 * Targets: cacheable share >= 80 % by turn 5; overhead <= 3,000 tokens.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { normaliseConversation } from '../lib/channel/context-store.js';
import { loadConfig } from '../lib/config/load.js';
import { AnthropicProvider } from '../lib/llm/providers/anthropic.js';
import type { ChatMessage } from '../lib/llm/types.js';
import { buildSystemPrompt } from '../lib/prompts/system-prompt.js';
import { CHANNEL_TOOL_DEFINITIONS } from '../lib/tools/channel-tools.js';
import { startFakeLlm } from '../test/fake-llm/server.js';

const TURNS = 20;
const TARGET_SHARE = 0.8;
const TARGET_SHARE_BY_TURN = 5;
const TARGET_OVERHEAD = 3_000;
/** Anthropic's minimum cacheable prompt length for Sonnet and Opus models. */
const MIN_CACHEABLE = 1_024;

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const estimate = (chars: number) => Math.ceil(chars / 4);

const QUESTIONS = [
  'Hi! Who are you?',
  'Can you help me plan a small vegetable garden on a balcony?',
  'It faces south and gets about six hours of sun. What should I grow?',
  'How big should the pots be for tomatoes?',
  'And how often do I water them in July?',
  'What about basil, can it share a pot with the tomatoes?',
  'Which soil mix would you buy?',
  'Is compost from the city collection good enough?',
  'When should I sow the basil indoors?',
  'What do I do about aphids without spraying poison?',
  'Do ladybirds really help, and where do I get them?',
  'How do I know when a tomato is ripe?',
  'Can I save seeds from my tomatoes for next year?',
  'What about peppers, are they harder?',
  'How do I keep the pots from overheating in a heat wave?',
  'Should I mulch pots too?',
  'What is a good weekly routine for all of this?',
  'What can I still plant in late August?',
  'How do I prepare the pots for winter?',
  'Thanks! Can you summarise the plan in five bullet points?',
];

const answerFor = (turn: number, question: string) =>
  `Turn ${turn}: about "${question.slice(0, 40)}" — here is a short, practical answer with two or three concrete ` +
  `suggestions, a caveat where it matters, and a question back if something is unclear.`;

type Block = Record<string, unknown>;
interface Body {
  system: Block[];
  tools: Block[];
  messages: { role: string; content: Block[] }[];
}

/** JSON chars of a piece without its cache_control marker. */
const size = (piece: Block): number => {
  const { cache_control: _marker, ...rest } = piece;
  return JSON.stringify(rest).length;
};

/** Estimated tokens of the whole input and of the prefix up to the last breakpoint. */
function measure(body: Body): { total: number; prefix: number; overhead: number } {
  const pieces: { chars: number; breakpoint: boolean; stable: boolean }[] = [
    ...body.system.map((b) => ({ chars: size({ text: b.text }), breakpoint: Boolean(b.cache_control), stable: true })),
    ...body.tools.map((t) => ({ chars: size(t), breakpoint: Boolean(t.cache_control), stable: true })),
    ...body.messages.flatMap((m) => m.content.map((b) => ({ chars: size(b), breakpoint: Boolean(b.cache_control), stable: false }))),
  ];
  let last = -1;
  pieces.forEach((p, i) => {
    if (p.breakpoint) last = i;
  });
  const sum = (ps: typeof pieces) => estimate(ps.reduce((n, p) => n + p.chars, 0));
  return { total: sum(pieces), prefix: sum(pieces.slice(0, last + 1)), overhead: sum(pieces.filter((p) => p.stable)) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-prompt-economy-'));
  const config = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data') } });
  const agent = config.agents[0];
  if (!agent) throw new Error('no agent');
  const system = await buildSystemPrompt(agent, 'channel');
  const fake = await startFakeLlm();
  const provider = new AnthropicProvider({ apiKey: 'bench-key-not-a-secret', baseUrl: fake.url });
  const stored: ChatMessage[] = [];
  const rows: { turn: number; total: number; prefix: number; overhead: number }[] = [];
  try {
    for (let turn = 1; turn <= TURNS; turn++) {
      const question = QUESTIONS[turn - 1] ?? `Question ${turn}?`;
      stored.push({ role: 'user', parts: [{ type: 'text', text: `[Alex] ${question}` }] });
      const answer = answerFor(turn, question);
      const callId = `toolu_bench_${turn}`;
      fake.enqueue({ toolCalls: [{ id: callId, name: 'reply', input: { text: answer } }] });
      await provider.complete({ model: 'claude-sonnet-5-5', system, messages: normaliseConversation(stored), tools: CHANNEL_TOOL_DEFINITIONS, maxOutputTokens: 1024 });
      const body = fake.requests[fake.requests.length - 1]?.body as Body;
      rows.push({ turn, ...measure(body) });
      stored.push({ role: 'assistant', parts: [{ type: 'tool_call', id: callId, name: 'reply', input: { text: answer } }] });
      stored.push({ role: 'user', parts: [{ type: 'tool_result', toolCallId: callId, content: 'Delivered.' }] });
    }
  } finally {
    await fake.close();
  }

  out('Prompt economy (tokens estimated as ceil(chars / 4) of the request JSON; Anthropic provider, 3 cache breakpoints)');
  out();
  out('turn  input tokens  cacheable prefix  share');
  for (const r of rows) out(`${String(r.turn).padStart(4)}  ${String(r.total).padStart(12)}  ${String(r.prefix).padStart(16)}  ${((r.prefix / r.total) * 100).toFixed(1).padStart(5)} %`);
  const overhead = rows[0]?.overhead ?? 0;
  const firstAtTarget = rows.find((r) => r.prefix / r.total >= TARGET_SHARE)?.turn;
  const holdsFrom = rows.findIndex((r, i) => rows.slice(i).every((x) => x.prefix / x.total >= TARGET_SHARE));
  out();
  out(`per-turn overhead (system + tools) for a simple question: ${overhead} tokens (system ${estimate(system.length)}, tools ${overhead - estimate(system.length)})`);
  out(`cacheable share reaches ${TARGET_SHARE * 100} % at turn ${firstAtTarget ?? 'never'}${holdsFrom >= 0 ? ` and stays there from turn ${holdsFrom + 1}` : ''}`);
  const cachedFrom = rows.find((r) => r.prefix >= MIN_CACHEABLE)?.turn;
  out(`Anthropic caches a prefix only from ${MIN_CACHEABLE} tokens (Sonnet/Opus): by this estimate the prefix is really cached from turn ${cachedFrom ?? 'never'}`);
  const shareOk = holdsFrom >= 0 && holdsFrom + 1 <= TARGET_SHARE_BY_TURN;
  const overheadOk = overhead <= TARGET_OVERHEAD;
  out(`target: share >= ${TARGET_SHARE * 100} % by turn ${TARGET_SHARE_BY_TURN}: ${shareOk ? 'met' : 'NOT met'}; overhead <= ${TARGET_OVERHEAD}: ${overheadOk ? 'met' : 'NOT met'}`);
  if (!shareOk || !overheadOk) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error('prompt-economy bench failed:', err);
  process.exitCode = 1;
});
