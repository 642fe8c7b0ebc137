import { TestWorkflowEnvironment } from '@temporalio/testing';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { prebuiltWorkflowBundle } from '../../lib/temporal/workflow-bundle.js';
import { findTemporalCli, missingCliMessage } from '../../lib/temporal/cli-path.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../lib/temporal/search-attributes.js';
import { workflowsPath } from '../../lib/runtime/worker.js';
import { createLogger } from '../../lib/logger.js';
import { installTemporalRuntime } from '../../lib/temporal/runtime-logger.js';

/** The real Temporal dev server (the temporal CLI built by `npm run setup:temporal`), one per test file. */
export async function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  const cli = await findTemporalCli();
  if (!cli) throw new Error(missingCliMessage());
  // Before the first use of the SDK's runtime: its logs go through pino, quiet unless LOG_LEVEL says.
  installTemporalRuntime(createLogger('temporal', process.env.LOG_LEVEL ?? 'warn'));
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli.path },
      searchAttributes: [...ALL_SEARCH_ATTRIBUTES],
      extraArgs: ['--log-level', 'error'],
    },
  });
}

const bundles = new Map<boolean, Promise<WorkflowBundleOption>>();
/** Shared by every test file and run: bundles are keyed by a hash of the code they hold. */
const BUNDLE_CACHE = path.join(os.tmpdir(), 'spacebot-test-workflow-bundles');

/**
 * The workflow bundle as worker processes get it (lib/temporal/workflow-bundle.ts: built by a child
 * process, cached by code version), so the suite runs what production runs and bundles each version
 * once instead of once per file. Versioned (the default) for workers in a Worker Deployment,
 * unversioned for the others. A bundle that cannot be built fails the tests that need it.
 */
export function testWorkflowBundle(versioned = true): Promise<WorkflowBundleOption> {
  let bundle = bundles.get(versioned);
  if (!bundle) {
    bundle = prebuiltWorkflowBundle({ entry: workflowsPath(versioned), dataDir: BUNDLE_CACHE, logger: createLogger('workflow-bundle', 'silent'), fallback: false });
    bundles.set(versioned, bundle);
  }
  return bundle;
}
