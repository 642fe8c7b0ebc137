import type { SpacebotConfig } from '../config/types.js';
import { configuredSecrets } from '../security/configured-secrets.js';

/**
 * The names of the secrets within reach of a tools service: everything the leak guard counts as a
 * configured secret (provider keys, API token, adapter tokens, passwords, any *_KEY / *_TOKEN /
 * *_SECRET variable), plus a database URL even without a password (trust auth still opens the
 * database). The tools service runs commands a hostile user can steer, so it holds none of them.
 */
export function secretsInToolsService(config: SpacebotConfig, env: NodeJS.ProcessEnv): string[] {
  const names = new Set(configuredSecrets(config, env).map((s) => s.name));
  if (env.DATABASE_URL) names.add('DATABASE_URL');
  else if (config.database.url) names.add('database.url');
  return [...names].sort();
}
