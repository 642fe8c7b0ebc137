import { loadConfig } from '../lib/config/load.js';
import { logger } from '../lib/logger.js';
import { startSpacebot, type Roles } from '../lib/runtime/app.js';
import { startUntilSignalled } from './lifecycle.js';

/** Shared entry-point body of `npm start` and the single-role processes: start the roles, run until a signal. */
export async function run(roles: Roles): Promise<void> {
  await startUntilSignalled('spacebot', () => startSpacebot(loadConfig(), logger, roles));
}
