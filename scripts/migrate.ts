/** `npm run migrate`: applies pending migrations to DATABASE_URL or the embedded database. */
import { loadConfig } from '../lib/config/load.js';
import { logger } from '../lib/logger.js';
import { openDatabase } from '../lib/runtime/database-runtime.js';

const config = loadConfig();
const database = await openDatabase(config, logger);
try {
  logger.info({ applied: database.migrations.applied, alreadyApplied: database.migrations.alreadyApplied.length }, 'migrations done');
} finally {
  await database.close();
}
