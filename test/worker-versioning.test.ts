import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../lib/config/load.js';
import { buildIdOf, derivedBuildId, workerDeploymentOptions, workflowSourceFiles } from '../lib/temporal/worker-versioning.js';

/**
 * The build id a worker joins its Worker Deployment under, and the `[temporal]` settings for it.
 * The deploy itself (current version, pinned and auto-upgrade runs) is test/integration/worker-versioning.test.ts.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-versioning-'));
  dirs.push(dir);
  return dir;
}

/** A project with a workflow entry that imports one module at run time and one for types only. */
function project(): { root: string; entry: string; write: (file: string, text: string) => void } {
  const root = tempDir();
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  write('package.json', JSON.stringify({ version: '2.3.4' }));
  write('workflows/index.ts', "export { a } from './a.js';\nimport type { T } from './types.js';\nexport type U = T;\n");
  write('workflows/a.ts', "import {\n  b,\n} from '../shared/b.js';\nexport const a = () => b + 1;\n");
  write('shared/b.ts', 'export const b = 1;\n');
  write('workflows/types.ts', 'export type T = string;\n');
  write('workflows/unrelated.ts', 'export const x = 1;\n');
  return { root, entry: path.join(root, 'workflows/index'), write };
}

test('the derived build id changes with the workflow code it bundles, and only with it', () => {
  const p = project();
  const first = buildIdOf(p.entry, p.root);
  expect(first).toMatch(/^2\.3\.4-[0-9a-f]{12}$/);
  expect(workflowSourceFiles(p.entry).map((f) => path.relative(p.root, f))).toEqual(['shared/b.ts', 'workflows/a.ts', 'workflows/index.ts']);
  // Type-only imports and files the entry never reaches are not workflow code.
  p.write('workflows/types.ts', 'export type T = number;\n');
  p.write('workflows/unrelated.ts', 'export const x = 2;\n');
  expect(buildIdOf(p.entry, p.root)).toBe(first);
  // A module reached through another one is.
  p.write('shared/b.ts', 'export const b = 2;\n');
  const second = buildIdOf(p.entry, p.root);
  expect(second).not.toBe(first);
  // So is the package version.
  p.write('package.json', JSON.stringify({ version: '2.3.5' }));
  expect(buildIdOf(p.entry, p.root)).toMatch(/^2\.3\.5-/);
});

test("Spacebot's own build id covers every workflow and the versioning behaviours", () => {
  const files = workflowSourceFiles().map((f) => path.basename(f));
  for (const f of ['index.ts', 'channel.ts', 'cortex.ts', 'branch.ts', 'worker.ts', 'compactor.ts', 'heartbeat.ts', 'ingestion.ts', 'versioning-behaviors.ts']) expect(files).toContain(f);
  expect(derivedBuildId()).toMatch(/^\d+\.\d+\.\d+-[0-9a-f]{12}$/);
});

function load(toml: string, env: NodeJS.ProcessEnv = {}) {
  const cwd = tempDir();
  writeFileSync(path.join(cwd, 'spacebot.toml'), toml);
  return loadConfig({ env, cwd });
}

test('[temporal] versioning settings: defaults, overrides and what the Workers get', () => {
  const defaults = load('').temporal.versioning;
  expect(defaults).toEqual({ enabled: true, deploymentName: 'spacebot', setCurrentVersion: true });
  expect(workerDeploymentOptions(defaults)).toEqual({
    workerDeploymentOptions: { useWorkerVersioning: true, version: { deploymentName: 'spacebot', buildId: derivedBuildId() }, defaultVersioningBehavior: 'PINNED' },
  });

  const set = load('[temporal]\ndeployment_name = "bots"\nbuild_id = "from-file"\nset_current_version = false\n').temporal.versioning;
  expect(set).toEqual({ enabled: true, deploymentName: 'bots', buildId: 'from-file', setCurrentVersion: false });
  expect(load('[temporal]\nbuild_id = "from-file"\n', { SPACEBOT_BUILD_ID: 'from-env' }).temporal.versioning.buildId).toBe('from-env');

  const off = load('[temporal]\nworker_versioning = false\n').temporal.versioning;
  expect(workerDeploymentOptions(off)).toEqual({});
});

test('a build id or deployment name Temporal would refuse stops start-up naming the setting', () => {
  const badBuild = () => load('', { SPACEBOT_BUILD_ID: '__reserved' });
  expect(badBuild).toThrow(ConfigError);
  expect(badBuild).toThrow(/SPACEBOT_BUILD_ID \/ temporal\.build_id/);
  expect(() => load('[temporal]\ndeployment_name = "spa.cebot"\n')).toThrow(/deployment_name/);
});
