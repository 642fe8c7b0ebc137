import type { FastifyInstance } from 'fastify';
import type { SpacebotWorker } from './worker.js';
import { OutboundAdapters } from '../../adapters/outbound.js';
import { WebhookOutbound } from '../../adapters/webhook.js';
import { buildApi } from '../../api/server.js';
import { ChannelClient } from '../channel/channel-client.js';
import { InboundBodies } from '../channel/inbound-bodies.js';
import { HeartbeatService } from '../heartbeats/schedules.js';
import type { SpacebotConfig } from '../config/types.js';
import { ProviderRegistry } from '../llm/registry.js';
import type { Logger } from '../logger.js';
import { resolveApiToken } from './api-token.js';
import { leakGuardOf } from '../security/leak-guard.js';
import { setLogLeakGuard } from '../logger.js';
import { openDatabase } from './database-runtime.js';
import { announceSandbox, refuseUnsandboxedRoot } from '../sandbox/startup.js';
import { startWorkerEgress } from '../net/sandbox-egress.js';
import { loadMasterKeys } from '../secrets/master-key.js';
import { openSecrets } from '../secrets/start.js';
import { spacebotDataConverter } from '../temporal/data-converter.js';
import { openStreamBus } from '../streaming/open-bus.js';
import { openTemporal } from './temporal-runtime.js';
import { createSpacebotWorker } from './worker.js';
import { deploymentVersion, promoteBuild } from '../temporal/worker-versioning.js';
import { IngestWatcher } from '../ingest/watcher.js';
import { installTemporalRuntime } from '../temporal/runtime-logger.js';
import { Gateway } from '../gateway/gateway.js';
import { ensureCortexWorkflows } from '../cortex/start.js';
import { selectEmbedder } from '../memory/embedders/select.js';
import { CooldownRegistry } from '../llm/cooldowns.js';

export interface Roles {
  worker: boolean;
  api: boolean;
  /** With the worker: poll each agent's `<workspace>/ingest/` for files to ingest (default true). */
  watchIngest?: boolean;
  /** The chat gateway: connects every `[adapters]` instance and feeds channel workflows (docs/adapters.md). */
  gateway?: boolean;
  /** With the worker: also run workers' shell and file tools; default: unless `[tools] service = "external"` (workers/tools.ts). */
  tools?: boolean;
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
    // Checked before anything starts: a blank or short token stops start-up with one line (ApiTokenError).
    const apiToken = roles.api ? resolveApiToken(config.server.apiToken, config.dataDir) : undefined;
    // `none` as root is refused before anything starts, so the refusal is the only line printed.
    const toolsHere = roles.tools ?? config.tools.service !== 'external';
    if (roles.worker && toolsHere) refuseUnsandboxedRoot(config.tools);
    // One leak guard for the process: tool output, replies, drafts, timelines and every log line
    // (lib/security/leak-guard.ts).
    const leakGuard = leakGuardOf({ config });
    setLogLeakGuard(leakGuard);
    const database = await openDatabase(config, logger);
    stops.push(() => database.close());
    // Before anything reads the config: `secret:NAME` values resolved, the leak guard taught every
    // stored value (docs/security.md#secrets-store).
    const keys = loadMasterKeys(config.dataDir);
    const secrets = await openSecrets(config, database.db, keys, logger);
    // Workers' shell and file tools: the sandbox probed once; its absence, or `none`, said in one line
    // once the database is up, so a start that fails before then says only why (docs/security.md#sandbox).
    if (roles.worker && toolsHere) announceSandbox(config.tools, logger);
    // `[tools] network = "guarded"`: the egress proxy the sandboxes reach out through, up before the tools Worker.
    const stopEgress = roles.worker && toolsHere ? await startWorkerEgress(config, logger) : undefined;
    if (stopEgress) stops.push(stopEgress);
    // Every client and Worker of the process: payloads encrypted with `[temporal] encrypt_history`.
    const dataConverter = spacebotDataConverter(keys, config.temporal.encryptHistory);
    // Streamed answers: published by this process's worker, served by its API (or another process's, via Postgres).
    const streams = openStreamBus(database, logger);
    stops.push(() => streams.close());
    const temporal = await openTemporal(config, logger, { dataConverter });
    stops.push(() => temporal.close());
    if (!config.agents.some((a) => a.model)) {
      logger.warn('no LLM provider key configured (ANTHROPIC_API_KEY or OPENAI_API_KEY): agents will answer with a configuration error');
    }

    // Config-managed heartbeats become (or stop being) Temporal Schedules; the others are left alone.
    const reconciled = await new HeartbeatService(temporal.client, config, database.db).reconcileConfig();
    if (reconciled.created.length + reconciled.updated.length + reconciled.removed.length) logger.info(reconciled, 'heartbeats from the config reconciled');

    // Built for the worker too: its delivery activity needs every instance's outbound side (the
    // adapters connect only when the gateway role starts them).
    const gateway =
      config.adapters.length > 0 && (roles.worker || roles.gateway)
        ? new Gateway({ config, channels: new ChannelClient(temporal.client, config, new InboundBodies(database.db)), logger, db: database.db, temporal: temporal.client })
        : undefined;

    // Probed once for both roles (the API saves memories too): if it does not work, one warning, and
    // memories use full text + graph only.
    const embedder = roles.worker || roles.api ? (await selectEmbedder(config.memory.embedder, logger)).embedder : null;

    let worker: SpacebotWorker | undefined;
    if (roles.worker) {
      installTemporalRuntime(logger);
      const deps = {
        config,
        db: database.db,
        providers: new ProviderRegistry(config.providers),
        // One cooldown registry for every LLM activity of this process (channel calls, summaries, ingestion).
        cooldowns: new CooldownRegistry(),
        outbound: new OutboundAdapters([new WebhookOutbound(), ...(gateway?.outbound() ?? [])]),
        logger,
        temporal: temporal.client,
        embedder,
        streams,
        leakGuard,
      };
      worker = await createSpacebotWorker({ connection: await temporal.nativeConnection(), namespace: temporal.namespace, taskQueue: config.temporal.taskQueue, dataConverter, deps, pollTools: toolsHere });
      const running = worker.run();
      running.catch((err: unknown) => logger.error({ err }, 'Temporal worker stopped with an error'));
      const w = worker;
      stops.push(async () => {
        if (w.getState() === 'RUNNING') w.shutdown();
        await running.catch(() => undefined);
      });
      // With Worker Versioning no task reaches a build until it is current: a new build becomes current here.
      await promoteBuild({ service: temporal.client.workflowService, namespace: temporal.namespace, config: config.temporal.versioning, logger });
      logger.info({ taskQueue: config.temporal.taskQueue, version: deploymentVersion(config.temporal.versioning) }, 'Temporal worker running');
      // One cortex workflow per agent maintains its memory ([cortex] enabled = false: none, running ones stop).
      await ensureCortexWorkflows(temporal.client, config, { logger });
      if (roles.watchIngest ?? true) {
        // Files dropped into <workspace>/ingest/ become ingestion workflows (lib/ingest/watcher.ts).
        const watcher = new IngestWatcher({ config, db: database.db, client: temporal.client, logger });
        watcher.start();
        stops.push(() => watcher.stop());
      }
    }

    if (roles.gateway && gateway) {
      await gateway.start();
      stops.push(() => gateway.stop());
    } else if (roles.gateway) {
      logger.info('gateway: no [adapters] configured; chat platforms are off (the webhook API still works)');
    }

    let apiUrl: string | undefined;
    if (roles.api && apiToken) {
      const { token, generatedFile } = apiToken;
      // A token generated into the data dir is in no config: the guard learns it here.
      leakGuard.addSecret('API token', token);
      const app: FastifyInstance = buildApi({
        config,
        db: database.db,
        temporal: temporal.client,
        temporalAddress: temporal.address,
        channels: new ChannelClient(temporal.client, config, new InboundBodies(database.db)),
        logger,
        temporalUiUrl: temporal.uiUrl,
        apiToken: token,
        streams,
        embedder,
        secrets,
        codec: dataConverter.payloadCodecs[0],
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
