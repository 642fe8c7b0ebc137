import type { Kysely } from 'kysely';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { leakGuardOf } from '../security/leak-guard.js';
import { resolveSecretReferences } from './config-refs.js';
import type { MasterKeys } from './master-key.js';
import { SecretStore } from './store.js';

/**
 * The secrets store at start, right after the database opens and before anything reads the config:
 * finishes a key rotation when SPACEBOT_MASTER_KEY_PREVIOUS is set, resolves `secret:NAME` config
 * values, and teaches the process's leak guard every stored value (and each one set later), so no
 * secret reaches a model, a transcript, a log or a platform.
 */
export async function openSecrets(config: SpacebotConfig, db: Kysely<Database>, keys: MasterKeys, logger: Logger): Promise<SecretStore> {
  const store = new SecretStore(db, keys);
  if (keys.previous) {
    const moved = await store.rotate();
    logger.info(
      { rotated: moved, key: keys.current.id, previousKey: keys.previous.id },
      `secrets store: ${moved} secret(s) re-encrypted under master key ${keys.current.id}; SPACEBOT_MASTER_KEY_PREVIOUS can go once no history needs it (docs/security.md)`,
    );
  }
  const values = await store.values();
  const resolved = resolveSecretReferences(config, values);
  const guard = leakGuardOf({ config });
  for (const [name, value] of values) guard.addSecret(`secret ${name}`, value);
  store.onSet((name, value) => guard.addSecret(`secret ${name}`, value));
  logger.info({ secrets: values.size, resolved: resolved.map((r) => r.key), masterKey: keys.current.id, source: keys.source }, 'secrets store open');
  return store;
}
