/**
 * `npm run bench:soak`: the resident memory (RSS) of one worker process (workers/worker.ts, its own OS
 * process) carrying 1,000 idle conversations and 50 active ones for 30 minutes. Goal: ≤ 400 MB and flat.
 *
 * Topology (bench/chaos/topology.ts, without chaos): a Temporal dev server, a private PostgreSQL, one
 * API process and the measured worker; the fake LLM in this process answers each message with a reply
 * naming it. Phases:
 *   1. baseline: the worker idle right after start (no conversation yet), sampled for a few seconds;
 *   2. idle conversations: SOAK_IDLE conversations get one message each (answered), then stay open;
 *   3. active: SOAK_ACTIVE conversations each send a message, wait for its answer, pause 1–3 s, again,
 *      for SOAK_MINUTES minutes, while the worker's RSS is sampled from /proc every SOAK_SAMPLE_S s.
 * Printed: RSS at baseline, after the idle conversations, at the start of the active phase, its peak
 * and end, the growth over the active phase, the slope of its second half (MB/min), and the ratios of
 * peak and end to the baseline. Flat means the end is within 10 % of the RSS a quarter into the
 * active phase (after warm-up) and the second half's slope, over the whole phase, adds less than that.
 * Samples go to bench/results/soak-<timestamp>.json.
 *
 * The worker runs compiled (`npm run build`, then `node dist/workers/worker.js`), as the Docker image
 * runs it; SOAK_TSX=1 measures the sources under tsx instead. SOAK_WORKER_NODE_ARGS adds node flags,
 * SOAK_WORKER_ENV (`NAME=value ...`) environment variables of the worker.
 *
 * Knobs: SOAK_MINUTES (30; `--short` = 3), SOAK_IDLE (1000), SOAK_ACTIVE (50), SOAK_SAMPLE_S (5).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chaosAgent, messageTag } from './chaos/fake-agent.js';
import { AGENT, startTopology, type Topology } from './chaos/topology.js';
import { intEnv } from './env.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GOAL_MB = 400;
const FLAT_TOLERANCE = 0.1;
const IDLE_CONCURRENCY = 10;
const REQUEST_TIMEOUT_MS = 120_000;

const short = process.argv.includes('--short');
const settings = {
  minutes: intEnv('SOAK_MINUTES', short ? 3 : 30),
  idle: intEnv('SOAK_IDLE', 1_000),
  active: intEnv('SOAK_ACTIVE', 50),
  sampleSeconds: intEnv('SOAK_SAMPLE_S', 5),
  // The worker as the Docker image runs it (compiled, plain node); SOAK_TSX=1 measures the sources under tsx.
  compiled: process.env.SOAK_TSX !== '1',
  workerNodeArgs: (process.env.SOAK_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  // NAME=value pairs for the worker's environment, e.g. MALLOC_ARENA_MAX=2.
  workerEnv: Object.fromEntries((process.env.SOAK_WORKER_ENV ?? '').split(/\s+/).filter(Boolean).map((pair) => pair.split(/=(.*)/s).slice(0, 2))) as NodeJS.ProcessEnv,
};

const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const mb = (kb: number) => kb / 1024;
const fmt = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** VmRSS of a pid, in kB (Linux /proc). */
function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

interface Sample {
  phase: 'baseline' | 'idle' | 'active';
  atS: number;
  rssMb: number;
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

async function send(t: Topology, conversation: string, text: string, messageId: string): Promise<void> {
  const res = await fetch(`${t.apiUrls[0]}/v1/agents/${AGENT}/conversations/${conversation}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text, messageId, wait: REQUEST_TIMEOUT_MS - 5_000 }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await res.json()) as { status?: string };
  if (res.status !== 200 || body.status !== 'completed') throw new Error(`${conversation} ${messageId}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
}

async function main(): Promise<void> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-soak-'));
  let topology: Topology | undefined;
  const killAll = () => {
    topology?.killNow();
    rmSync(runDir, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  process.once('SIGINT', () => process.exit(130));
  try {
    out(`soak: ${settings.idle} idle + ${settings.active} active conversations on one worker process for ${settings.minutes} min (goal ≤ ${GOAL_MB} MB and flat)`);
    if (settings.compiled) {
      out('soak: npm run build (the worker runs from dist/, as in the Docker image)');
      execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    }
    topology = await startTopology({ runDir, apis: 1, workers: 1, gateway: false, llm: chaosAgent, log: out, compiled: settings.compiled, workerNodeArgs: settings.workerNodeArgs, workerEnv: settings.workerEnv });
    const t = topology;
    const worker = t.processes.get('worker-1')!.proc;
    const samples: Sample[] = [];
    const started = Date.now();
    const sample = (phase: Sample['phase']) => {
      const pid = worker.pid;
      if (pid === undefined || !worker.running()) throw new Error('the worker process is gone: see its log in the run directory');
      const s = { phase, atS: (Date.now() - started) / 1000, rssMb: mb(rssKb(pid)) };
      samples.push(s);
      return s;
    };

    for (let i = 0; i < 6; i++) {
      sample('baseline');
      await sleep(1_000);
    }
    const baseline = samples.reduce((a, s) => a + s.rssMb, 0) / samples.length;
    out(`soak: baseline (worker idle, no conversation) ${fmt(baseline)} MB`);

    let next = 0;
    let idleDone = 0;
    const idleStart = Date.now();
    const idleTicker = setInterval(() => sample('idle'), settings.sampleSeconds * 1000);
    try {
      await Promise.all(
        Array.from({ length: IDLE_CONCURRENCY }, async () => {
          while (next < settings.idle) {
            const c = ++next;
            await send(t, `soak-idle-${c}`, `hello ${messageTag(c, 1)}`, `idle-${c}`);
            if (++idleDone % 100 === 0) out(`soak: ${idleDone}/${settings.idle} idle conversations opened, worker RSS ${fmt(sample('idle').rssMb)} MB`);
          }
        }),
      );
    } finally {
      clearInterval(idleTicker);
    }
    const afterIdle = sample('idle').rssMb;
    out(`soak: ${settings.idle} idle conversations open in ${fmt((Date.now() - idleStart) / 1000)} s; worker RSS ${fmt(afterIdle)} MB`);

    const activeStart = Date.now();
    const activeEnd = activeStart + settings.minutes * 60_000;
    let answered = 0;
    const activeTicker = setInterval(() => {
      const s = sample('active');
      if (samples.filter((x) => x.phase === 'active').length % 12 === 0) out(`soak: ${fmt((Date.now() - activeStart) / 60_000, 1)} min, ${answered} answers, worker RSS ${fmt(s.rssMb)} MB`);
    }, settings.sampleSeconds * 1000);
    try {
      await Promise.all(
        Array.from({ length: settings.active }, async (_, k) => {
          const c = settings.idle + k + 1;
          for (let n = 1; Date.now() < activeEnd; n++) {
            await send(t, `soak-active-${c}`, `message ${messageTag(c, n)}`, `active-${c}-${n}`);
            answered++;
            await sleep(1_000 + Math.random() * 2_000);
          }
        }),
      );
    } finally {
      clearInterval(activeTicker);
    }
    sample('active');

    const active = samples.filter((s) => s.phase === 'active');
    const activeT0 = active[0]?.atS ?? 0;
    const span = (active[active.length - 1]?.atS ?? activeT0) - activeT0;
    const quarterIn = active.find((s) => s.atS - activeT0 >= span / 4) ?? active[0]!;
    const secondHalf = active.filter((s) => s.atS - activeT0 >= span / 2).map((s) => ({ x: s.atS / 60, y: s.rssMb }));
    const startMb = active[0]!.rssMb;
    const endMb = active[active.length - 1]!.rssMb;
    const peakMb = Math.max(...samples.map((s) => s.rssMb));
    const secondHalfSlope = slope(secondHalf);
    // Flat: the end within the tolerance of the warmed-up RSS, and the second half's trend, carried over
    // the whole active phase, within it too (a short run can end inside the band while still climbing).
    const flat = endMb <= quarterIn.rssMb * (1 + FLAT_TOLERANCE) && secondHalfSlope * settings.minutes <= quarterIn.rssMb * FLAT_TOLERANCE;
    const pass = peakMb <= GOAL_MB && flat;
    const result = {
      settings,
      answered,
      baselineMb: baseline,
      afterIdleMb: afterIdle,
      activeStartMb: startMb,
      quarterInMb: quarterIn.rssMb,
      peakMb,
      endMb,
      growthMb: endMb - startMb,
      secondHalfSlopeMbPerMin: secondHalfSlope,
      peakOverBaseline: peakMb / baseline,
      endOverBaseline: endMb / baseline,
      flat,
      pass,
      samples,
    };
    out();
    out('| worker RSS | MB |');
    out('| --- | --- |');
    out(`| baseline (idle, no conversation) | ${fmt(baseline)} |`);
    out(`| after ${settings.idle} idle conversations | ${fmt(afterIdle)} |`);
    out(`| active phase start | ${fmt(startMb)} |`);
    out(`| active phase peak | ${fmt(peakMb)} |`);
    out(`| active phase end | ${fmt(endMb)} |`);
    out();
    out(`growth over the active phase ${fmt(result.growthMb, 1)} MB (${answered} answers in ${settings.minutes} min); second-half slope ${fmt(result.secondHalfSlopeMbPerMin, 2)} MB/min`);
    out(`peak / baseline x${fmt(result.peakOverBaseline, 2)}, end / baseline x${fmt(result.endOverBaseline, 2)}`);
    out(
      `${pass ? 'PASS' : 'MISS'}: peak ${fmt(peakMb)} MB (goal ≤ ${GOAL_MB}), ${flat ? 'flat' : 'growing'} (end ${fmt(endMb)} MB vs ${fmt(quarterIn.rssMb)} MB a quarter in; ` +
        `second-half trend ${fmt(secondHalfSlope * settings.minutes, 0)} MB over ${settings.minutes} min; tolerance ${FLAT_TOLERANCE * 100} % of it)`,
    );
    const dir = path.join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    out(`results: ${path.relative(process.cwd(), file)}`);
  } finally {
    await topology?.stop();
    process.removeListener('exit', killAll);
    rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:soak failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
