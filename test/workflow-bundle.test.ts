import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from '@jest/globals';
import { createLogger } from '../lib/logger.js';
import { workflowsPath } from '../lib/runtime/worker.js';
import { bundleKey, prebuiltWorkflowBundle } from '../lib/temporal/workflow-bundle.js';

/**
 * lib/temporal/workflow-bundle.ts: the workers' workflow bundle is built by a child process (so
 * webpack's memory never stays in the worker) and kept per code version in the data directory.
 * That every integration test's worker runs such a bundle is test/helpers/temporal-env.ts.
 */
const dirs: string[] = [];
const tempDir = (name: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), `spacebot-bundle-${name}-`));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const logger = createLogger('test', 'silent');

test('a worker\'s bundle is built once per code version in a child process, then reused from the data directory', async () => {
  const dataDir = tempDir('data');
  const entry = workflowsPath(true);
  const first = await prebuiltWorkflowBundle({ entry, dataDir, logger, fallback: false });
  const codePath = (first as { codePath: string }).codePath;
  expect(path.dirname(codePath)).toBe(path.join(dataDir, 'workflow-bundles'));
  expect(path.basename(codePath)).toBe(`${bundleKey(entry)}.js`);
  // The real bundle: the SDK's workflow runtime and our workflow types, no temporary file left.
  const code = readFileSync(codePath, 'utf8');
  expect(code).toContain('channelWorkflow');
  expect(code).toContain('__TEMPORAL__');
  expect(readdirSync(path.dirname(codePath))).toEqual([path.basename(codePath)]);
  expect(statSync(codePath).mode & 0o777).toBe(0o600);

  const builtAt = statSync(codePath).mtimeMs;
  const started = Date.now();
  expect(await prebuiltWorkflowBundle({ entry, dataDir, logger })).toEqual({ codePath });
  expect(statSync(codePath).mtimeMs).toBe(builtAt);
  expect(Date.now() - started).toBeLessThan(5_000);
});

test('the key follows the code: each entry has its own, and a changed workflow module gets a new one', () => {
  expect(bundleKey(workflowsPath(true))).not.toBe(bundleKey(workflowsPath(false)));
  const root = tempDir('src');
  mkdirSync(path.join(root, 'workflows'));
  const entry = path.join(root, 'workflows/index.ts');
  writeFileSync(path.join(root, 'workflows/helper.ts'), 'export const answer = 41;\n');
  writeFileSync(entry, "import { answer } from './helper.js';\nexport async function w(): Promise<number> { return answer; }\n");
  const before = bundleKey(entry);
  expect(bundleKey(entry)).toBe(before);
  writeFileSync(path.join(root, 'workflows/helper.ts'), 'export const answer = 42;\n');
  expect(bundleKey(entry)).not.toBe(before);
});

test('a workflow module that does not bundle: the bundler\'s error, or (workers) a warning and in-process bundling', async () => {
  const root = tempDir('broken');
  mkdirSync(path.join(root, 'workflows'));
  const entry = path.join(root, 'workflows/index.ts');
  writeFileSync(entry, "export { missing } from './no-such-module.js';\n");
  await expect(prebuiltWorkflowBundle({ entry, dataDir: tempDir('data'), logger, fallback: false })).rejects.toThrow(/workflow bundler process ended with exit code 1: .*no-such-module/s);

  const warnings: string[] = [];
  const recording = createLogger('test', 'warn', { write: (line: string) => void warnings.push(line) });
  expect(await prebuiltWorkflowBundle({ entry, dataDir: tempDir('data'), logger: recording })).toBeUndefined();
  expect(warnings.join('\n')).toMatch(/bundling in this process/);
});

test('bundles of other code versions are removed once a week old; the one in use and recent ones stay', async () => {
  const dataDir = tempDir('data');
  const dir = path.join(dataDir, 'workflow-bundles');
  mkdirSync(dir, { recursive: true });
  const old = path.join(dir, 'index-0.1.0-aaaaaaaaaaaa-00000000.js');
  const recent = path.join(dir, 'index-0.1.9-bbbbbbbbbbbb-00000000.js');
  writeFileSync(old, '// old');
  writeFileSync(recent, '// recent');
  const eightDaysAgo = (Date.now() - 8 * 24 * 3600_000) / 1000;
  utimesSync(old, eightDaysAgo, eightDaysAgo);
  const { codePath } = (await prebuiltWorkflowBundle({ entry: workflowsPath(false), dataDir, logger, fallback: false })) as { codePath: string };
  expect(readdirSync(dir).sort()).toEqual([path.basename(codePath), path.basename(recent)].sort());
});
