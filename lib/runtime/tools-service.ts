import { NativeConnection, type Worker } from '@temporalio/worker';
import type { SpacebotConfig } from '../config/types.js';
import { ConfigError } from '../config/load.js';
import type { Logger } from '../logger.js';
import { announceSandbox } from '../sandbox/startup.js';
import { startWorkerEgress } from '../net/sandbox-egress.js';
import { installTemporalRuntime } from '../temporal/runtime-logger.js';
import { AesGcmPayloadCodec } from '../temporal/payload-codec.js';
import { PAYLOAD_KEY_ENV, PayloadKeyFormatError, payloadKeysFromEnv } from '../temporal/payload-key.js';
import { createToolsWorker } from './tools-worker.js';
import { promoteBuild } from '../temporal/worker-versioning.js';
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
  const dataConverter = toolsDataConverter(config, env);
  // This process IS where the tools run: it probes its own sandbox, whatever `[tools] service` says.
  const here: SpacebotConfig = { ...config, tools: { ...config.tools, service: 'local' } };
  // Says whether the sandbox works here; refuses `sandbox = "none"` as root (SandboxPolicyError).
  announceSandbox(here.tools, logger);
  const address = config.temporal.address;
  if (!address) throw new ConfigError('TEMPORAL_ADDRESS (or temporal.address) is required for the tools service: it joins a running Temporal server');
  installTemporalRuntime(logger);
  const connection = await NativeConnection.connect({ address });
  // `[tools] network = "guarded"`: the egress proxy the sandboxes reach out through, up before the tools Worker.
  let stopEgress: (() => Promise<void>) | undefined;
  try {
    stopEgress = await startWorkerEgress(here, logger);
    const worker = await createToolsWorker({ connection, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, config: here, logger, dataConverter });
    const running = worker.run();
    running.catch((err: unknown) => logger.error({ err }, 'tools worker stopped with an error'));
    // Deployed after the workers of its build, it is the one that completes the build's task queues.
    await promoteBuild({ service: connection.workflowService, namespace: config.temporal.namespace, config: config.temporal.versioning, logger });
    logger.info({ taskQueue: config.temporal.taskQueue, sandbox: config.tools.sandbox, encryptHistory: config.temporal.encryptHistory }, 'tools service running');
    return {
      worker,
      running,
      async stop() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        await stopEgress?.();
        await connection.close();
      },
    };
  } catch (err) {
    await stopEgress?.();
    await connection.close();
    throw err;
  }
}


/**
 * The payload codec from SPACEBOT_PAYLOAD_KEY, never the master key (which would open the secrets
 * store). With `encrypt_history` on and no payload key the service refuses to start: it could not
 * read a single activity task, and every worker's shell and file tool would fail one by one instead.
 * With it off, a given key still decodes runs recorded while it was on (as in the other processes).
 */
function toolsDataConverter(config: SpacebotConfig, env: NodeJS.ProcessEnv): { payloadCodecs: [AesGcmPayloadCodec] } | undefined {
  let keys;
  try {
    keys = payloadKeysFromEnv(env);
  } catch (err) {
    if (err instanceof PayloadKeyFormatError) throw new ConfigError(err.message);
    throw err;
  }
  if (!keys) {
    if (!config.temporal.encryptHistory) return undefined;
    throw new ConfigError(
      `[temporal] encrypt_history is true but ${PAYLOAD_KEY_ENV} is not set: the tools service cannot read encrypted activity tasks; set it to the output of \`spacebot keys payload-key\` (never the master key; docs/security.md, "History at rest")`,
    );
  }
  return { payloadCodecs: [new AesGcmPayloadCodec(keys, { encrypt: config.temporal.encryptHistory })] };
}
