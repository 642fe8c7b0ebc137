import { NativeConnection, type Worker } from '@temporalio/worker';
import type { SpacebotConfig } from '../config/types.js';
import { ConfigError } from '../config/load.js';
import type { Logger } from '../logger.js';
import { announceSandbox } from '../sandbox/startup.js';
import { installTemporalRuntime } from '../temporal/runtime-logger.js';
import { createToolsWorker } from './tools-worker.js';
import { secretsInToolsService } from './tools-service-secrets.js';

/** Refused start of the tools service: a secret is within reach of the commands it would run. */
export class ToolsServiceSecretsError extends ConfigError {}

export interface ToolsService {
  worker: Worker;
  /** Resolves when the Worker stops (rejects if it failed). */
  running: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The tools service (`npm run start:tools`, the `spacebot-tools` compose service): only the Worker of
 * the tools task queue, running workers' shell and file tools. It needs the Temporal address,
 * namespace and task queue and the config's `[tools]` and agent workspaces, nothing else. It refuses
 * to start when a secret is in its environment or config (fail closed: a shell command in the sandbox
 * is steered by untrusted users, and a secret beside it is one escape away from them).
 */
export async function startToolsService(config: SpacebotConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ToolsService> {
  const secrets = secretsInToolsService(config, env);
  if (secrets.length) {
    throw new ToolsServiceSecretsError(
      `the tools service must hold no secrets, but found ${secrets.join(', ')}; remove them from its environment and config (docs/security.md, "What each container holds")`,
    );
  }
  // This process IS where the tools run: it probes its own sandbox, whatever `[tools] service` says.
  const here: SpacebotConfig = { ...config, tools: { ...config.tools, service: 'local' } };
  // Says whether the sandbox works here; refuses `sandbox = "none"` as root (SandboxPolicyError).
  announceSandbox(here.tools, logger);
  const address = config.temporal.address;
  if (!address) throw new ConfigError('TEMPORAL_ADDRESS (or temporal.address) is required for the tools service: it joins a running Temporal server');
  installTemporalRuntime(logger);
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await createToolsWorker({ connection, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, config: here, logger });
    const running = worker.run();
    running.catch((err: unknown) => logger.error({ err }, 'tools worker stopped with an error'));
    logger.info({ taskQueue: config.temporal.taskQueue, sandbox: config.tools.sandbox }, 'tools service running');
    return {
      worker,
      running,
      async stop() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        await connection.close();
      },
    };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

