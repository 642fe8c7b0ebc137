import type { FastifyInstance } from 'fastify';
import type { Worker } from '@temporalio/worker';
import { OutboundAdapters } from '../../adapters/outbound.js';
import { WebhookOutbound } from '../../adapters/webhook.js';
import { buildApi } from '../../api/server.js';
import { ChannelClient } from '../channel/channel-client.js';
import { HeartbeatService } from '../heartbeats/schedules.js';
import type { SpacebotConfig } from '../config/types.js';
import { ProviderRegistry } from '../llm/registry.js';
import type { Logger } from '../logger.js';
import { resolveApiToken } from './api-token.js';
import { openDatabase } from './database-runtime.js';
import { openTemporal } from './temporal-runtime.js';
import { createSpacebotWorker } from './worker.js';
import { installTemporalRuntime } from '../temporal/runtime-logger.js';

export interface Roles {
  worker: boolean;
  api: boolean;
}

export interface RunningApp {
  apiUrl?: string;
  temporalUiUrl?: string;
  stop(): Promise<void>;
}

/**
 * Starts what `roles` asks for on top of the database and Temporal (embedded when no address or URL
 * is configured): `npm start` runs both roles in one process; workers/worker.ts and workers/api.ts
 * run one each for scale-out. Anything started is stopped again if a later step fails.
 */
export async function startSpacebot(config: SpacebotConfig, logger: Logger, roles: Roles): Promise<RunningApp> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
  };
  try {
    const database = await openDatabase(config, logger);
    stops.push(() => database.close());
    const temporal = await openTemporal(config, logger);
    stops.push(() => temporal.close());
    if (!config.agents.some((a) => a.model)) {
      logger.warn('no LLM provider key configured (ANTHROPIC_API_KEY or OPENAI_API_KEY): agents will answer with a configuration error');
    }

    // Config-managed heartbeats become (or stop being) Temporal Schedules; the others are left alone.
    const reconciled = await new HeartbeatService(temporal.client, config, database.db).reconcileConfig();
    if (reconciled.created.length + reconciled.updated.length + reconciled.removed.length) logger.info(reconciled, 'heartbeats from the config reconciled');

    let worker: Worker | undefined;
    if (roles.worker) {
      installTemporalRuntime(logger);
      const deps = { config, db: database.db, providers: new ProviderRegistry(config.providers), outbound: new OutboundAdapters([new WebhookOutbound()]), logger, temporal: temporal.client };
      worker = await createSpacebotWorker({ connection: await temporal.nativeConnection(), namespace: temporal.namespace, taskQueue: config.temporal.taskQueue, deps });
      const running = worker.run();
      running.catch((err: unknown) => logger.error({ err }, 'Temporal worker stopped with an error'));
      const w = worker;
      stops.push(async () => {
        if (w.getState() === 'RUNNING') w.shutdown();
        await running.catch(() => undefined);
      });
      logger.info({ taskQueue: config.temporal.taskQueue }, 'Temporal worker running');
    }

    let apiUrl: string | undefined;
    if (roles.api) {
      const { token, generatedFile } = resolveApiToken(config.server.apiToken, config.dataDir);
      const app: FastifyInstance = buildApi({
        config,
        db: database.db,
        temporal: temporal.client,
        temporalAddress: temporal.address,
        channels: new ChannelClient(temporal.client, config),
        logger,
        temporalUiUrl: temporal.uiUrl,
        apiToken: token,
      });
      await app.listen({ port: config.server.port, host: config.server.host });
      stops.push(() => app.close());
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.server.port;
      apiUrl = `http://${config.server.host}:${port}`;
      logger.info({ apiUrl, tokenFile: generatedFile }, generatedFile ? `API listening; bearer token in ${generatedFile}` : 'API listening');
    }
    if (temporal.uiUrl) logger.info({ temporalUi: temporal.uiUrl }, `Temporal Web UI: ${temporal.uiUrl}`);
    return { apiUrl, temporalUiUrl: temporal.uiUrl, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
