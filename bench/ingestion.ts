/**
 * `npm run bench:ingest`: ingestion throughput in chunks per second with the fake LLM, next to a
 * baseline measured in the same run against the same fake LLM.
 *
 * Real path: `POST /v1/agents/main/ingest` (JSON upload) → ingestion workflow on the real worker and
 * Temporal dev server (test/helpers/harness.ts: dev server, PGlite, fake LLM, worker, API) →
 * prepareIngestion (parse, chunk, store) → per chunk ingestChunk: two LLM calls through the Anthropic
 * SDK (the model calls memory_save for the chunk's FACT line; then it sees the result and stops), the
 * save (no embedder), ledger rows and progress → finishIngestion. Timed from the POST until the API
 * reports `done`.
 *
 * Baseline: the same two LLM round trips per chunk (same provider client, same system prompt and
 * chunk, same tool), made directly in a loop: no Temporal, no database. The ratio
 * baseline chunks/s ÷ ingestion chunks/s is what orchestration, durability and storage cost.
 *
 * Knobs (environment): BENCH_CHUNKS (100 chunks of 4,000 characters per document), BENCH_ROUNDS (2;
 * ordered baseline, ingestion, ingestion, baseline, …), LOG_LEVEL (silent).
 */
import { randomUUID } from 'node:crypto';
import { chunkText, sha256Hex } from '../lib/ingest/chunk.js';
import { resolveModels } from '../lib/llm/routing.js';
import { ProviderRegistry } from '../lib/llm/registry.js';
import type { ChatMessage } from '../lib/llm/types.js';
import { memorySaveTool } from '../lib/tools/memory-tools.js';
import { toolDefinition, type Tool } from '../lib/tools/tool.js';
import { createHarness, eventually, type Harness } from '../test/helpers/harness.js';
import { documentWith, extractionScript } from '../test/ingest/script.js';
import { intEnv } from './env.js';

const settings = { chunks: intEnv('BENCH_CHUNKS', 100), rounds: intEnv('BENCH_ROUNDS', 2) };
const out = (line = ''): void => void process.stdout.write(`${line}\n`);

interface Sample {
  path: 'baseline' | 'ingestion';
  chunks: number;
  seconds: number;
}

/** The same two round trips per chunk that extraction makes, straight through the provider. */
async function baseline(h: Harness, chunks: number): Promise<Sample> {
  const agent = h.config.agents[0];
  if (!agent) throw new Error('the harness has no agent');
  const [model] = resolveModels(h.config, { agent, process: 'cortex', task: 'ingest' }).models;
  if (!model) throw new Error('no model configured');
  const provider = new ProviderRegistry(h.config.providers).get(model);
  const tools = [toolDefinition(memorySaveTool as Tool)];
  const system = 'You are the memory of a benchmark agent.';
  const doc = chunkText(documentWith(chunks, `baseline-${randomUUID().slice(0, 8)}`));
  const started = performance.now();
  for (const chunk of doc) {
    const messages: ChatMessage[] = [{ role: 'user', parts: [{ type: 'text', text: `Document "b.md", part ${chunk.seq + 1} of ${doc.length}:\n\n<document-part>\n${chunk.text}\n</document-part>` }] }];
    const first = await provider.complete({ model: model.model, system, messages, tools, maxOutputTokens: agent.maxOutputTokens });
    messages.push({ role: 'assistant', parts: first.toolCalls });
    messages.push({ role: 'user', parts: first.toolCalls.map((c) => ({ type: 'tool_result' as const, toolCallId: c.id, content: 'Saved memory.' })) });
    await provider.complete({ model: model.model, system, messages, tools, maxOutputTokens: agent.maxOutputTokens });
  }
  return { path: 'baseline', chunks: doc.length, seconds: (performance.now() - started) / 1000 };
}

async function ingestion(h: Harness, chunks: number): Promise<Sample> {
  const text = documentWith(chunks, `ingest-${randomUUID().slice(0, 8)}`);
  const id = sha256Hex(Buffer.from(text));
  const started = performance.now();
  const res = await h.request('POST', '/v1/agents/main/ingest', { filename: 'bench.md', content: text });
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(res.body)}`);
  const done = await eventually(
    async () => {
      const r = await h.request('GET', `/v1/agents/main/ingest/${id}`);
      const ing = r.body.ingestion as { status: string; chunksDone: number; error: string | null } | undefined;
      if (ing?.status === 'failed') throw new Error(`ingestion failed: ${ing.error}`);
      return ing?.status === 'done' ? ing : undefined;
    },
    30 * 60_000,
    'the benchmark ingestion',
  );
  return { path: 'ingestion', chunks: done.chunksDone, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  // The harness reads its body limit from the config: a 100-chunk document is ~400 KB of JSON.
  const bodyLimit = Math.max(262_144, settings.chunks * 4_200 + 65_536);
  const h = await createHarness({ toml: `[server]\nbody_limit_bytes = ${bodyLimit}\n` });
  try {
    h.fake.script(extractionScript);
    out(`ingestion benchmark: ${settings.chunks} chunks per document, ${settings.rounds} rounds per path`);
    await ingestion(h, 2); // warm-up: bundle loaded, first connections made
    await baseline(h, 2);
    const samples: Sample[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      const order = round % 2 === 0 ? [baseline, ingestion] : [ingestion, baseline];
      for (const run of order) {
        const s = await run(h, settings.chunks);
        samples.push(s);
        out(`  ${s.path.padEnd(9)} ${s.chunks} chunks in ${s.seconds.toFixed(2)} s = ${(s.chunks / s.seconds).toFixed(1)} chunks/s`);
      }
    }
    const rate = (p: Sample['path']) => {
      const of = samples.filter((s) => s.path === p);
      return of.reduce((n, s) => n + s.chunks, 0) / of.reduce((t, s) => t + s.seconds, 0);
    };
    const ingest = rate('ingestion');
    const base = rate('baseline');
    out();
    out(`ingestion: ${ingest.toFixed(1)} chunks/s (${(1000 / ingest).toFixed(1)} ms per chunk)`);
    out(`baseline (2 direct LLM round trips per chunk): ${base.toFixed(1)} chunks/s (${(1000 / base).toFixed(1)} ms per chunk)`);
    out(`ratio baseline/ingestion: ${(base / ingest).toFixed(2)}x; orchestration, durability and storage add ${(1000 / ingest - 1000 / base).toFixed(1)} ms per chunk`);
  } finally {
    await h.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
