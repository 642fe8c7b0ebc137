import { ConfigError, loadConfig } from '../lib/config/load.js';
import { PgvectorMissingError } from '../lib/db/migrate.js';
import { MasterKeyError } from '../lib/secrets/master-key.js';
import { SecretsError } from '../lib/secrets/store.js';
import { logger } from '../lib/logger.js';
import { ApiTokenError } from '../lib/runtime/api-token.js';
import { startSpacebot, type Roles } from '../lib/runtime/app.js';

/**
 * Shared entry-point body: start the roles, stop cleanly on SIGINT/SIGTERM, and turn the errors a
 * user can fix (bad config, no pgvector, no temporal CLI, a blank or short API token) into one clear line
 * and exit code 1.
 */
export async function run(roles: Roles): Promise<void> {
  let app: Awaited<ReturnType<typeof startSpacebot>>;
  try {
    app = await startSpacebot(loadConfig(), logger, roles);
  } catch (err) {
    const known = err instanceof MasterKeyError || err instanceof SecretsError || err instanceof ConfigError || err instanceof PgvectorMissingError || err instanceof ApiTokenError;
    if (known) console.error(`spacebot: ${(err as Error).message}`);
    else logger.fatal({ err }, `spacebot failed to start: ${(err as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    app
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
