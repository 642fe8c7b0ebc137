import { ConfigError } from '../lib/config/load.js';
import { PgvectorMissingError } from '../lib/db/migrate.js';
import { logger } from '../lib/logger.js';
import { ApiTokenError } from '../lib/runtime/api-token.js';
import { SandboxPolicyError } from '../lib/sandbox/startup.js';
import { MasterKeyError } from '../lib/secrets/master-key.js';
import { SecretsError } from '../lib/secrets/store.js';

/**
 * The life of one Spacebot process, shared by every entry point: start it, turn the errors an operator
 * fixes (bad config, no pgvector, no temporal CLI, a weak API token, a missing or wrong master key, an
 * unsandboxed root, a data directory in use) into one clear line and exit code 1, and stop cleanly on
 * SIGINT/SIGTERM.
 */

const OPERATOR_ERRORS = [ConfigError, PgvectorMissingError, ApiTokenError, SandboxPolicyError, MasterKeyError, SecretsError];

export interface Stoppable {
  stop(): Promise<void>;
}

export interface RunningProcess<T> {
  service: T;
  /** True once a signal asked the process to stop. */
  stopping(): boolean;
}

export async function startUntilSignalled<T extends Stoppable>(name: string, start: () => Promise<T>): Promise<RunningProcess<T>> {
  let service: T;
  try {
    service = await start();
  } catch (err) {
    if (OPERATOR_ERRORS.some((type) => err instanceof type)) console.error(`${name}: ${(err as Error).message}`);
    else logger.fatal({ err }, `${name} failed to start: ${(err as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    service
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return { service, stopping: () => stopping };
}
