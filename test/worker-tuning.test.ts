import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../lib/config/load.js';

/** `[worker]`: slots per task queue, shutdown grace and sticky-queue timeout (docs/processes.md). */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function load(toml: string) {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'spacebot-worker-tuning-'));
  dirs.push(cwd);
  writeFileSync(path.join(cwd, 'spacebot.toml'), toml);
  return loadConfig({ env: {}, cwd });
}

test('without [worker]: the documented slots, 30 s shutdown grace, 1 s sticky-queue timeout', () => {
  expect(load('').worker).toEqual({
    workflowTaskSlots: 40,
    activitySlots: { main: 50, llm: 50, delivery: 50, tools: 10, background: 4 },
    shutdownGraceMs: 30_000,
    stickyQueueTimeoutMs: 1000,
    maxCachedWorkflows: 250,
  });
});

test('[worker] sets each queue apart', () => {
  const worker = load('[worker]\nllm_slots = 8\nbackground_slots = 1\nshutdown_grace_seconds = 5\nsticky_queue_timeout_ms = 500\n').worker;
  expect(worker).toMatchObject({ activitySlots: { main: 50, llm: 8, delivery: 50, tools: 10, background: 1 }, shutdownGraceMs: 5000, stickyQueueTimeoutMs: 500 });
});

test('a bad [worker] value is refused with its name', () => {
  expect(() => load('[worker]\nbackground_slots = 0\n')).toThrow(ConfigError);
  expect(() => load('[worker]\nbackground_slots = 0\n')).toThrow(/background_slots/);
  expect(() => load('[worker]\nbackground_slot = 2\n')).toThrow(/background_slot/);
});

test('the workflow cache can be sized or turned off, never below the workflow task slots', () => {
  expect(load('[worker]\nmax_cached_workflows = 1000\n').worker.maxCachedWorkflows).toBe(1000);
  expect(load('[worker]\nmax_cached_workflows = 0\n').worker.maxCachedWorkflows).toBe(0);
  expect(() => load('[worker]\nmax_cached_workflows = 1\n')).toThrow(/max_cached_workflows/);
  expect(() => load('[worker]\nmax_cached_workflows = 20\n')).toThrow(/max_cached_workflows.*at least workflow_task_slots/);
  expect(load('[worker]\nworkflow_task_slots = 10\nmax_cached_workflows = 20\n').worker.maxCachedWorkflows).toBe(20);
});
