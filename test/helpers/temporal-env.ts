import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
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

const bundles = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();

/**
 * Bundles the workflows once per test file and flavour; workers started in the file share it.
 * Versioned (the default) for workers in a Worker Deployment, unversioned for the others.
 */
export function testWorkflowBundle(versioned = true): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(versioned);
  if (!bundle) bundles.set(versioned, (bundle = bundleWorkflowCode({ workflowsPath: workflowsPath(versioned), logger: quietBundlerLogger })));
  return bundle;
}

const noop = () => undefined;
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, log: noop, warn: noop, error: noop };
