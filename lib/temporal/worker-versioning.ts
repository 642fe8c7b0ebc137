import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowService } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import type { VersioningConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import { PROJECT_ROOT } from '../paths.js';

/**
 * Worker Versioning (docs/runs.md#versioned-deploys): every Spacebot Worker joins the Worker
 * Deployment `[temporal] deployment_name` under one build id, and the first worker of a build that
 * was never current makes it current. Which workflow types stay on their build (PINNED) and which move
 * to the current one (AUTO_UPGRADE) is workflows/versioning-behaviors.ts.
 */

// The code root (the repository under tsx and jest, dist/ in production), as workflowsPath() finds it.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKFLOWS_ENTRY = path.join(ROOT, 'workflows/index');

// temporal.api.enums.v1.WorkerDeploymentVersionStatus (the proto package is not ours to import).
const VersionStatus = { UNSPECIFIED: 0, INACTIVE: 1, CURRENT: 2, RAMPING: 3, DRAINING: 4, DRAINED: 5 } as const;
const STATUS_NAMES = Object.fromEntries(Object.entries(VersionStatus).map(([name, n]) => [n, name]));

/** This process's deployment version, or undefined with `[temporal] worker_versioning = false`. */
export function deploymentVersion(config: VersioningConfig): WorkerDeploymentVersion | undefined {
  if (!config.enabled) return undefined;
  return { deploymentName: config.deploymentName, buildId: config.buildId ?? derivedBuildId() };
}

/** What to spread into Worker.create's options: nothing when versioning is off. */
export function workerDeploymentOptions(config: VersioningConfig): { workerDeploymentOptions?: WorkerDeploymentOptions } {
  const version = deploymentVersion(config);
  if (!version) return {};
  // Every workflow type declares its own behaviour (workflows/versioning-behaviors.ts); PINNED is the
  // safe fallback for one that does not: it never meets code it did not start on.
  return { workerDeploymentOptions: { useWorkerVersioning: true, version, defaultVersioningBehavior: 'PINNED' } };
}

let derived: string | undefined;

/** This code's build id, computed once per process (see buildIdOf). */
export function derivedBuildId(): string {
  derived ??= buildIdOf(WORKFLOWS_ENTRY, PROJECT_ROOT);
  return derived;
}

/**
 * `<package version>-<12 hex>`: the hash covers every module the workflow bundle is built from
 * (`entry` and what it imports at run time, type-only imports excluded) and the version of the
 * bundled @temporalio/workflow, so changed workflow code gets a new build id and unchanged code (an
 * activity fix, a docs change) keeps its own. `projectRoot` holds package.json and node_modules.
 */
export function buildIdOf(entry: string, projectRoot: string): string {
  const hash = createHash('sha256');
  const base = path.dirname(path.dirname(entry));
  for (const file of workflowSourceFiles(entry)) {
    hash.update(path.relative(base, file).replaceAll('\\', '/'));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  hash.update(`@temporalio/workflow@${packageVersion(path.join(projectRoot, 'node_modules/@temporalio/workflow/package.json'))}`);
  return `${packageVersion(path.join(projectRoot, 'package.json'))}-${hash.digest('hex').slice(0, 12)}`;
}

/** The workflow entry and every module it reaches through relative run-time imports, sorted. */
export function workflowSourceFiles(entry = WORKFLOWS_ENTRY): string[] {
  const seen = new Set<string>();
  const pending = [resolveModule(entry)].filter((f): f is string => f !== undefined);
  while (pending.length) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeImports(readFileSync(file, 'utf8'))) {
      const target = resolveModule(path.resolve(path.dirname(file), spec));
      if (target && !seen.has(target)) pending.push(target);
    }
  }
  return [...seen].sort();
}

// `import … from './x.js'`, `export … from './x.js'` and `import './x.js'`; `import type` and
// `export type` are erased by the compiler and never reach the bundle.
const IMPORT = /(?:^|[;\n])\s*(import|export)(\s+type\b)?[^'";]*?(?:\sfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]/g;

function runtimeImports(source: string): string[] {
  const specs: string[] = [];
  for (const match of source.matchAll(IMPORT)) if (!match[2]) specs.push(match[3] as string);
  return specs;
}

/** `./x.js` → x.ts under tsx/jest, x.js under dist/; undefined if neither exists. */
function resolveModule(specifier: string): string | undefined {
  const base = specifier.replace(/\.(js|ts)$/, '');
  return [`${base}.ts`, `${base}.js`].find((f) => existsSync(f));
}

function packageVersion(file: string): string {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '0';
  } catch {
    return '0';
  }
}

export interface PromoteOptions {
  service: WorkflowService;
  namespace: string;
  config: VersioningConfig;
  logger: Logger;
  identity?: string;
  /** How long to keep trying while the server does not know this build's pollers yet (default 30 s). */
  timeoutMs?: number;
}

export type PromoteOutcome = 'off' | 'already-current' | 'made-current' | 'left-alone' | 'gave-up';

/**
 * Called once this process's Workers poll: with `[temporal] set_current_version` (default on), a
 * build that has never been current or ramping becomes the deployment's current version, so new
 * workflows and AUTO_UPGRADE ones go to it. A build that was current before and has been replaced
 * (an older release restarting during a rollout), or one an operator is ramping, is left alone: only
 * a new build moves the deployment forward. Never throws: a failure is logged and the deployment
 * keeps its current version (the old workers keep serving).
 */
export async function promoteBuild(options: PromoteOptions): Promise<PromoteOutcome> {
  const version = deploymentVersion(options.config);
  if (!version) return 'off';
  const { service, namespace, logger } = options;
  const log = logger.child({ deployment: version.deploymentName, buildId: version.buildId });
  if (!options.config.setCurrentVersion) {
    log.info('worker versioning: [temporal] set_current_version = false, the current version is left to the operator');
    return 'left-alone';
  }
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      const summary = await versionSummary(service, namespace, version);
      if (summary?.status === VersionStatus.CURRENT) return 'already-current';
      if (summary && !neverActivated(summary)) {
        log.info({ status: STATUS_NAMES[Number(summary.status)] ?? summary.status }, 'worker versioning: this build was current before or is ramping; leaving the current version alone');
        return 'left-alone';
      }
      // Unknown until the server has seen this build's pollers (NOT_FOUND), or missing one of the
      // task queues the current version polls (FAILED_PRECONDITION): both retried until the deadline.
      await service.setWorkerDeploymentCurrentVersion({ namespace, deploymentName: version.deploymentName, buildId: version.buildId, identity: options.identity ?? 'spacebot' });
      log.info('worker versioning: this build is now the current version');
      return 'made-current';
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 2_000)));
  }
  log.error(
    { err: lastError },
    'worker versioning: could not make this build current (are all its task queues polled, the tools service included?); set it with `temporal worker deployment set-current-version`',
  );
  return 'gave-up';
}

interface VersionSummary {
  status?: number | null;
  firstActivationTime?: unknown;
  currentSinceTime?: unknown;
  lastDeactivationTime?: unknown;
}

async function versionSummary(service: WorkflowService, namespace: string, version: WorkerDeploymentVersion): Promise<VersionSummary | undefined> {
  try {
    const res = await service.describeWorkerDeployment({ namespace, deploymentName: version.deploymentName });
    return res.workerDeploymentInfo?.versionSummaries?.find((v) => v.deploymentVersion?.buildId === version.buildId);
  } catch (err) {
    // No deployment yet: this build is the first.
    if ((err as { code?: number }).code === 5) return undefined;
    throw err;
  }
}

/** Never current and never ramping: a build that has not been rolled out yet. */
function neverActivated(summary: VersionSummary): boolean {
  const inactive = summary.status == null || summary.status === VersionStatus.INACTIVE || summary.status === VersionStatus.UNSPECIFIED;
  return inactive && !summary.firstActivationTime && !summary.currentSinceTime && !summary.lastDeactivationTime;
}
