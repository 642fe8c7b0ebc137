import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import type { SpacebotConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import { findTemporalCli, missingCliMessage } from '../temporal/cli-path.js';
import { startDevServer, type DevServer } from '../temporal/dev-server.js';

export interface TemporalRuntime {
  address: string;
  namespace: string;
  /** Web UI base URL: the embedded server's, else TEMPORAL_UI_URL when configured. */
  uiUrl?: string;
  client: Client;
  /** For workers, which need the native (Rust core) connection. */
  nativeConnection(): Promise<NativeConnection>;
  close(): Promise<void>;
}

/**
 * Connects to TEMPORAL_ADDRESS, or with none set starts the temporal CLI's dev server as a child
 * process (SQLite under the data directory, Web UI on 8233).
 */
export async function openTemporal(config: SpacebotConfig, logger: Logger, options: { dataConverter?: DataConverter } = {}): Promise<TemporalRuntime> {
  let devServer: DevServer | undefined;
  let address = config.temporal.address;
  let uiUrl = config.server.temporalUiUrl;
  if (!address) {
    const cli = await findTemporalCli();
    if (!cli) throw new Error(missingCliMessage());
    logger.info({ cli: cli.path, source: cli.source }, 'starting embedded Temporal dev server');
    devServer = await startDevServer({
      cliPath: cli.path,
      dataDir: config.dataDir,
      namespace: config.temporal.namespace,
      port: config.temporal.devServerPort,
      uiPort: config.temporal.devUiPort,
      logger,
    });
    address = devServer.address;
    uiUrl = uiUrl ?? devServer.uiUrl;
  }
  const connection = await Connection.connect({ address });
  // The payload codec (lib/temporal/data-converter.ts) for everything this client sends and reads.
  const client = new Client({ connection, namespace: config.temporal.namespace, ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}) });
  const natives: NativeConnection[] = [];
  return {
    address,
    namespace: config.temporal.namespace,
    uiUrl,
    client,
    async nativeConnection() {
      const native = await NativeConnection.connect({ address });
      natives.push(native);
      return native;
    },
    async close() {
      for (const native of natives) await native.close().catch(() => undefined);
      await connection.close();
      await devServer?.stop();
    },
  };
}
