/**
 * `npm run bench:failover`: how long messages wait after kill -9 of a worker process.
 *
 * Topology as in production, minus Docker: one Temporal dev server, the HTTP API (in this process),
 * two worker processes (workers/worker.ts, each its own OS process), PGlite served over a socket (or
 * TEST_DATABASE_URL), the fake LLM answering at once. Per round: both workers alive, two warm-up
 * messages to every conversation (each conversation cached on one worker or the other), then
 *  - baseline: one message to every conversation at once, nobody killed;
 *  - failover: kill -9 of the worker that has the most conversations cached, then at once one message
 *    to every conversation.
 * The figure is the worst answer time (POST with `wait` to response) of the failover messages as a
 * ratio to the baseline's, measured in the same run; both absolute figures are printed too. A message
 * not answered within BENCH_WAIT_S counts as lost and is reported.
 *
 * Knobs (environment): BENCH_ROUNDS (3), BENCH_CONVERSATIONS (10), BENCH_WAIT_S (60), LOG_LEVEL.
 */
import { percentile } from './percentile.js';
import { answered, busiestWorker, echoScript, sendToEach, warm, type Answer } from '../test/helpers/failover.js';
import { createHarness } from '../test/helpers/harness.js';
import { startWorkerProcess, type WorkerProcess } from '../test/helpers/worker-process.js';
import { intEnv } from './env.js';

const settings = { rounds: intEnv('BENCH_ROUNDS', 3), conversations: intEnv('BENCH_CONVERSATIONS', 10), waitMs: intEnv('BENCH_WAIT_S', 60) * 1000 };
const conversations = Array.from({ length: settings.conversations }, (_, i) => `bench-failover-${i}`);

interface Round {
  baseline: Answer[];
  failover: Answer[];
  stickyToVictim: number;
}

const worst = (answers: Answer[]) => Math.max(...answers.map((a) => a.ms));
const lost = (answers: Answer[]) => answers.filter((a) => !answered(a)).length;
const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const h = await createHarness({ noWorker: true });
h.fake.script(echoScript);
const workers: WorkerProcess[] = [];
const rounds: Round[] = [];
try {
  for (let r = 1; r <= settings.rounds; r++) {
    while (workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).length < 2) {
      const w = startWorkerProcess(h);
      workers.push(w);
      await w.ready;
    }
    const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    for (const round of [1, 2]) await warm(h, conversations, `round-${r}-warm-${round}`);
    const baseline = await sendToEach(h, conversations, `round-${r}-baseline`, settings.waitMs);
    const { worker: victim, sticky } = await busiestWorker(h, live, conversations);
    await victim.kill();
    const failover = await sendToEach(h, conversations, `round-${r}-failover`, settings.waitMs);
    rounds.push({ baseline, failover, stickyToVictim: sticky.length });
    for (const a of [...baseline, ...failover].filter((x) => !answered(x))) out(`  lost: ${a.text} -> HTTP ${a.status}, ${a.replies.length} replies after ${seconds(a.ms)}`);
    out(
      `round ${r}: ${sticky.length}/${conversations.length} conversations cached on the killed worker; worst answer ${seconds(worst(baseline))} baseline, ${seconds(worst(failover))} after the kill; lost ${lost(baseline)} / ${lost(failover)}`,
    );
  }
} finally {
  for (const w of workers) await w.kill();
  await h.close();
}

const baselineWorst = percentile(rounds.map((r) => worst(r.baseline)), 50);
const failoverWorst = Math.max(...rounds.map((r) => worst(r.failover)));
const failoverMedianWorst = percentile(rounds.map((r) => worst(r.failover)), 50);
out('');
out(`failover after kill -9 of 1 of 2 workers (${settings.rounds} rounds x ${settings.conversations} conversations):`);
out(`  worst answer, baseline (median of rounds):  ${seconds(baselineWorst)}`);
out(`  worst answer, after the kill (median):      ${seconds(failoverMedianWorst)}  ratio ${(failoverMedianWorst / baselineWorst).toFixed(2)}x baseline`);
out(`  worst answer, after the kill (worst round): ${seconds(failoverWorst)}  ratio ${(failoverWorst / baselineWorst).toFixed(2)}x baseline`);
out(`  lost: ${rounds.reduce((n, r) => n + lost(r.baseline) + lost(r.failover), 0)} of ${rounds.length * 2 * settings.conversations} measured messages`);
process.exit(0);
