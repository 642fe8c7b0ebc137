import { existsSync } from 'node:fs';
import path from 'node:path';
import type { SpacebotConfig } from '../config/types.js';
import { MASTER_KEY_FILE } from '../secrets/master-key.js';
import { configuredSecrets } from '../security/configured-secrets.js';
import { PAYLOAD_KEY_ENV, PREVIOUS_PAYLOAD_KEY_ENV } from '../temporal/payload-key.js';

/**
 * The payload keys (`spacebot keys payload-key`) are the one key the tools service may hold: with
 * `[temporal] encrypt_history` it must decode its activity tasks. A payload key is HKDF of the master
 * key for Temporal payloads only: it cannot decrypt a secrets-store row (another derived key) and
 * does not lead back to the master key, so a command that steals it reads history payloads (which
 * the tools service sees in the clear anyway) and nothing more. Its value is still a secret to the
 * leak guard (`*_KEY`), so tool output never shows it.
 */
const ALLOWED = new Set([PAYLOAD_KEY_ENV, PREVIOUS_PAYLOAD_KEY_ENV]);

/**
 * The names of the secrets within reach of a tools service: everything the leak guard counts as a
 * configured secret (provider keys, API token, adapter tokens, passwords, any *_KEY / *_TOKEN /
 * *_SECRET variable, the master key included), plus a database URL even without a password (trust
 * auth still opens the database) and a master key file in its data dir. The tools service runs
 * commands a hostile user can steer, so it holds none of them.
 */
export function secretsInToolsService(config: SpacebotConfig, env: NodeJS.ProcessEnv): string[] {
  const names = new Set(
    configuredSecrets(config, env)
      .map((s) => s.name)
      .filter((name) => !ALLOWED.has(name)),
  );
  if (env.DATABASE_URL) names.add('DATABASE_URL');
  else if (config.database.url) names.add('database.url');
  const keyFile = path.join(config.dataDir, MASTER_KEY_FILE);
  // Outside the sandbox, but one escape away like a variable: give the service a data dir of its own.
  if (existsSync(keyFile)) names.add(`the master key file ${keyFile} (use a data dir without it)`);
  return [...names].sort();
}
