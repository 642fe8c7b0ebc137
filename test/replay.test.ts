import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ReplayOutcome } from '../lib/replay/replay-histories.js';
import { HISTORY_FIXTURES_DIR } from './helpers/histories.js';

/**
 * Replays every history saved from the integration tests (npm run fixtures:record) against the
 * current workflow code. A change that would break determinism for conversations already running in
 * production fails here, before it is deployed. The replay runs in its own process: Jest's module
 * sandbox breaks protobufjs's JSON decoding of histories.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const fixtures = readdirSync(HISTORY_FIXTURES_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => path.join(HISTORY_FIXTURES_DIR, f));

async function replay(extra: string[]): Promise<{ code: number; outcomes: ReplayOutcome[] }> {
  const args = ['--import', 'tsx', path.join(ROOT, 'scripts/replay-histories.ts'), '--json', ...extra, ...fixtures];
  try {
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, outcomes: JSON.parse(stdout) as ReplayOutcome[] };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (!e.stdout) throw new Error(`replay script failed: ${e.stderr ?? String(err)}`);
    return { code: e.code ?? 1, outcomes: JSON.parse(e.stdout) as ReplayOutcome[] };
  }
}

test('there are saved histories to replay', () => {
  expect(fixtures.length).toBeGreaterThanOrEqual(8);
});

test('every saved history replays against the current workflow code', async () => {
  const { code, outcomes } = await replay([]);
  expect(outcomes.filter((o) => !o.ok)).toEqual([]);
  expect(outcomes).toHaveLength(fixtures.length);
  expect(code).toBe(0);
}, 90_000);

test('a workflow changed incompatibly fails the replay', async () => {
  const { code, outcomes } = await replay(['--workflows', path.join(ROOT, 'test/fixtures/altered-workflows/index.ts')]);
  expect(code).toBe(1);
  expect(outcomes).toHaveLength(fixtures.length);
  expect(outcomes.every((o) => !o.ok && o.errorName === 'DeterminismViolationError')).toBe(true);
}, 90_000);
