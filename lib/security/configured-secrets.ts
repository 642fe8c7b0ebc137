import type { SpacebotConfig } from '../config/types.js';

/**
 * Every secret the operator configured, by name, for the leak guard: provider keys, the API token,
 * adapter tokens and signing secrets, the database password, and the environment's secret variables
 * (whether or not the config reads them: a key in the environment is reachable by a shell command).
 */

/**
 * Environment variables whose value is a credential, judged by their name: a secret word as one of
 * its `_` segments anywhere (`DISCORD_BOT_TOKEN_SUPPORT`, `SLACK_OPS_SIGNING_SECRET`), or `KEY` at
 * the end (`SPACEBOT_MASTER_KEY`). Names that point at one (`*_FILE`, `*_PATH`, `*_ENV`...) are not.
 */
const SECRET_ENV_NAME = /(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?)(?:_|$)|(?:^|_)(?:KEY|PASS|AUTH)$/;
const POINTER_ENV_NAME = /_(?:FILE|PATH|DIR|ENV|NAME|URL|TYPE|ALGORITHM|LENGTH|TTL|HEADER)$/;

export function isSecretEnvName(name: string): boolean {
  return SECRET_ENV_NAME.test(name) && !POINTER_ENV_NAME.test(name);
}

/** Config keys whose string value is a credential (snake_case tables and camelCase resolved ones). */
const SECRET_CONFIG_KEY = /(?:api_?key|token|secret|password|passwd|credentials?|private_?key)$/i;
/** Config keys that name the environment variable holding a credential (`token_env`, `api_key_env`). */
const ENV_REF_KEY = /(?:_env|Env)$/;

export function configuredSecrets(config: SpacebotConfig, env: NodeJS.ProcessEnv = process.env): { name: string; value: string }[] {
  const found: { name: string; value: string }[] = [];
  const add = (name: string, value: unknown): void => {
    if (typeof value === 'string' && value) found.push({ name, value });
  };
  found.push(...environmentSecrets(env));

  // The whole resolved config, walked: a new secret-bearing key is covered without touching this file.
  const walk = (value: unknown, path: string[], depth: number): void => {
    if (depth > 12 || value === null || typeof value !== 'object') return;
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const here = [...path, key];
      if (typeof item === 'string') {
        if (SECRET_CONFIG_KEY.test(key)) add(here.join('.'), item);
        else if (ENV_REF_KEY.test(key) && /^[A-Z_][A-Z0-9_]*$/.test(item)) add(item, env[item]);
        else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(item)) add(`${here.join('.')} password`, urlPassword(item));
      } else walk(item, here, depth + 1);
    }
  };
  walk(config, [], 0);
  return found;
}

/** The environment's secret variables alone, judged by name (for the logger before the config is read). */
export function environmentSecrets(env: NodeJS.ProcessEnv = process.env): { name: string; value: string }[] {
  const found: { name: string; value: string }[] = [];
  for (const [name, value] of Object.entries(env)) if (value && isSecretEnvName(name)) found.push({ name, value });
  const password = urlPassword(env.DATABASE_URL);
  if (password) found.push({ name: 'DATABASE_URL password', value: password });
  return found;
}

/** The password of a `scheme://user:password@host` URL, decoded, if it has one. */
function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
