import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lib/config/load.js';
import type { SpacebotConfig } from '../../lib/config/types.js';
import { checkBudget, takeBudgetWarning } from '../../lib/costs/budget.js';
import { recordLlmCall } from '../../lib/costs/ledger.js';
import { createLogger } from '../../lib/logger.js';
import { openDatabase, type DatabaseRuntime } from '../../lib/runtime/database-runtime.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

let database: DatabaseRuntime;
let config: SpacebotConfig;
let server: TestDatabase | undefined;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-budget-'));
  server = await createTestDatabase();
  config = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: server.url } });
  config.budgets = { warnAt: 0.8, dailyUsd: 1, monthlyUsd: 2, agents: { loose: { dailyUsd: undefined, monthlyUsd: undefined } } };
  database = await openDatabase(config, createLogger('test', 'silent'));
});
afterAll(async () => {
  await database?.close();
  await server?.drop();
});

/** One call costing exactly `usd` ($1 per million output tokens), at `when`. */
async function spend(agentId: string, usd: number, when: Date, key: string) {
  const config1 = { pricing: { models: { 'openai/one-dollar': { input: 1, output: 1, cacheRead: 0, cacheWrite: 0 } }, default: config.pricing.default } };
  await recordLlmCall(database.db, config1, {
    callKey: key,
    agentId,
    channelId: null,
    process: 'cortex',
    model: { provider: 'openai', model: 'one-dollar' },
    usage: { inputTokens: 0, outputTokens: usd * 1e6, cacheReadTokens: 0, cacheWriteTokens: 0 },
    latencyMs: 1,
    stopReason: 'end_turn',
  });
  await database.db.updateTable('llm_calls').set({ created_at: when }).where('call_key', '=', key).execute();
}

test('daily and monthly caps over UTC periods; the day is checked first', async () => {
  const now = new Date('2026-05-20T10:00:00Z');
  await spend('main', 0.7, new Date('2026-05-19T23:59:00Z'), 'm1');
  await spend('main', 0.5, new Date('2026-05-20T00:00:01Z'), 'm2');
  await spend('main', 9, new Date('2026-04-30T12:00:00Z'), 'old');
  const status = await checkBudget(database.db, config, 'main', now);
  expect(status.day).toEqual({ period: 'day', start: '2026-05-20', spentUsd: 0.5, capUsd: 1 });
  expect(status.month).toEqual({ period: 'month', start: '2026-05-01', spentUsd: 1.2, capUsd: 2 });
  expect(status.allowed).toBe(true);
  expect(status.warnings).toEqual([]);

  await spend('main', 0.35, new Date('2026-05-20T09:00:00Z'), 'm3');
  const warned = await checkBudget(database.db, config, 'main', now);
  expect(warned.warnings.map((w) => w.period)).toEqual(['day']);
  await spend('main', 0.2, new Date('2026-05-20T09:30:00Z'), 'm4');
  const stopped = await checkBudget(database.db, config, 'main', now);
  expect(stopped.allowed).toBe(false);
  expect(stopped.exceeded?.period).toBe('day');
  expect(stopped.message).toMatch(/daily spending limit of \$1\.00 \(\$1\.05 spent today\)/);
  // The next UTC day the daily cap is fresh, but the month is nearly spent.
  const tomorrow = await checkBudget(database.db, config, 'main', new Date('2026-05-21T01:00:00Z'));
  expect(tomorrow.allowed).toBe(true);
  expect(tomorrow.warnings.map((w) => w.period)).toEqual(['month']);
});

test('an agent without caps is always allowed and never warned', async () => {
  await spend('loose', 50, new Date(), 'l1');
  const status = await checkBudget(database.db, config, 'loose');
  expect(status).toMatchObject({ allowed: true, warnings: [] });
  expect(status.day.spentUsd).toBe(50);
});

test('a warning is taken once per agent and period; a retry of the announcing call gets it again', async () => {
  const status = await checkBudget(database.db, config, 'main', new Date('2026-05-20T10:00:00Z'));
  const at = { channelId: 'channel:main:webhook:c', turnSeq: 4, step: 1 };
  const first = await takeBudgetWarning(database.db, status, at);
  expect(first).toMatch(/^Heads-up: I have used \$1\.05 of my daily budget of \$1\.00 \(105%\)/);
  expect(await takeBudgetWarning(database.db, status, at)).toBe(first);
  expect(await takeBudgetWarning(database.db, status, { ...at, turnSeq: 5 })).toBeUndefined();
  expect(await takeBudgetWarning(database.db, status, { ...at, channelId: 'channel:main:webhook:other' })).toBeUndefined();
});
