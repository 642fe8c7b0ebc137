import { loadConfig } from '../lib/config/load.js';
import { findMasterKeys, MasterKeyError } from '../lib/secrets/master-key.js';
import { derivePayloadKeys, formatPayloadKey, PAYLOAD_KEY_ENV, PREVIOUS_PAYLOAD_KEY_ENV } from '../lib/temporal/payload-key.js';
import { CliError } from './api-client.js';

/**
 * `spacebot keys payload-key`: the history payload key derived from the master key, as the lines to
 * put in the tools service's environment (SPACEBOT_PAYLOAD_KEY, and _PREVIOUS during a rotation).
 * Runs locally, next to the master key (SPACEBOT_MASTER_KEY, else `<data dir>/master-key`), and never
 * creates one: a fresh key would encrypt nothing anyone else can read. The output is a secret:
 * redirect it into the tools service's env file, not into a ticket.
 */
export function payloadKeyLines(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  let keys;
  try {
    keys = findMasterKeys(loadConfig({ env, cwd }).dataDir, env);
  } catch (err) {
    if (err instanceof MasterKeyError) throw new CliError(err.message);
    throw err;
  }
  if (!keys) {
    throw new CliError('no master key here: set SPACEBOT_MASTER_KEY (or SPACEBOT_DATA_DIR to the data dir holding master-key) as the other Spacebot processes have it');
  }
  const payload = derivePayloadKeys(keys);
  return [
    `${PAYLOAD_KEY_ENV}=${formatPayloadKey(payload.current)}`,
    ...(payload.previous ? [`${PREVIOUS_PAYLOAD_KEY_ENV}=${formatPayloadKey(payload.previous)}`] : []),
  ];
}
