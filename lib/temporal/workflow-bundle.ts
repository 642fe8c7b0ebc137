import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowBundleOption } from '@temporalio/worker';
import type { Logger } from '../logger.js';
import { PROJECT_ROOT } from '../paths.js';
import { buildIdOf } from './worker-versioning.js';

/**
 * The workflow bundle a worker process runs, built once per code version in a short-lived child
 * process and kept in `<data dir>/workflow-bundles/`.
 *
 * Why not let Worker.create bundle it (`workflowsPath`): webpack runs in the worker's own heap, and
 * the ~130 MB it takes stays resident for the life of the process (measured: RSS 128 → 259 MB, 242 MB
 * after a full GC) — a third of the memory a worker carrying 1,000 conversations may use
 * (bench/soak.ts). In a child process that memory goes back to the OS when it exits, and a restart of
 * the same code (a crash, a scale-out on the same volume) reuses the file without bundling at all.
 *
 * The file name is the build id of the entry (lib/temporal/worker-versioning.ts: a hash of every
 * workflow module and the bundled SDK version) plus a hash of package-lock.json (the other
 * packages webpack pulls in), so a changed workflow never runs from an old bundle.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUNDLES_DIR = 'workflow-bundles';
/** Bundles of other code versions are removed once this old (a rolling deploy may still want the last one). */
const STALE_AFTER_MS = 7 * 24 * 3600_000;
/** Bundling takes ~10 s on a quiet machine; a loaded one (CI, two cores) can take several times that. */
const BUNDLE_TIMEOUT_MS = 5 * 60_000;

export interface PrebuiltBundleOptions {
  /** The workflows entry (workflowsPath()): a .ts file under tsx, .js under dist/. */
  entry: string;
  /** Where bundles are kept: the process's data directory. */
  dataDir: string;
  logger: Logger;
  /** On a child failure bundle in process (default), or throw (tests: a broken bundle must fail). */
  fallback?: boolean;
}

/** `<build id>-<lock hash>`: the cache key of the bundle of `entry`. */
export function bundleKey(entry: string): string {
  const buildId = buildIdOf(entry.replace(/\.(ts|js)$/, ''), PROJECT_ROOT);
  const lockFile = path.join(PROJECT_ROOT, 'package-lock.json');
  const lock = existsSync(lockFile) ? createHash('sha256').update(readFileSync(lockFile)).digest('hex').slice(0, 8) : 'nolock';
  return `${path.basename(entry).replace(/\.(ts|js)$/, '')}-${buildId}-${lock}`;
}

/** The child's entry: the .ts source under tsx, the compiled .js under dist/ (as workflowsPath does). */
function childEntry(): string {
  const base = path.join(HERE, 'bundle-workflows-process');
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

/** Runs the child: the .ts entry (sources under tsx or jest) through tsx, the compiled one as is. */
function bundleInChild(entry: string, outFile: string): Promise<void> {
  const script = childEntry();
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return new Promise((resolve, reject) => {
    // cwd: the project root, where `--import tsx` resolves.
    const child = spawn(process.execPath, [...loader, script, entry, outFile], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: BUNDLE_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 8_000) stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && existsSync(outFile)) resolve();
      else reject(new Error(`the workflow bundler process ended with ${signal ?? `exit code ${code}`}: ${stderr.trim().slice(-2_000) || 'no output'}`));
    });
  });
}

/** Removes bundles of other code versions older than STALE_AFTER_MS (never the one in use). */
function removeStale(dir: string, keep: string): void {
  for (const name of readdirSync(dir)) {
    if (name === keep) continue;
    const file = path.join(dir, name);
    try {
      if (Date.now() - statSync(file).mtimeMs > STALE_AFTER_MS) rmSync(file, { force: true });
    } catch {
      // Another process removed it first.
    }
  }
}

/**
 * The bundle of `entry` as Worker.create's `workflowBundle`: the cached file, or a fresh one from a
 * child process. When the child fails (it cannot be spawned, or the data directory is read-only),
 * returns undefined and the caller bundles in process, as before, with a warning saying why; a
 * broken workflow module then fails Worker.create with the bundler's own error.
 */
export async function prebuiltWorkflowBundle(options: PrebuiltBundleOptions & { fallback: false }): Promise<WorkflowBundleOption>;
export async function prebuiltWorkflowBundle(options: PrebuiltBundleOptions): Promise<WorkflowBundleOption | undefined>;
export async function prebuiltWorkflowBundle(options: PrebuiltBundleOptions): Promise<WorkflowBundleOption | undefined> {
  const dir = path.join(options.dataDir, BUNDLES_DIR);
  const name = `${bundleKey(options.entry)}.js`;
  const codePath = path.join(dir, name);
  if (existsSync(codePath)) {
    options.logger.debug({ codePath }, 'workflow bundle reused');
    return { codePath };
  }
  const started = Date.now();
  try {
    // Code the worker will run: kept in the data directory, which is the server's alone (the
    // sandboxed tools never see it, docs/security.md), beside the master key.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await bundleInChild(options.entry, codePath);
  } catch (err) {
    if (options.fallback === false) throw err;
    options.logger.warn({ err, entry: options.entry }, 'workflow bundle could not be built in a child process; bundling in this process (its memory stays resident)');
    return undefined;
  }
  options.logger.info({ codePath, ms: Date.now() - started }, 'workflow bundle built');
  removeStale(dir, name);
  return { codePath };
}
