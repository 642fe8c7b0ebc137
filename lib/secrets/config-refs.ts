import type { SpacebotConfig } from '../config/types.js';
import { ConfigError } from '../config/load.js';

/** `secret:NAME`: the whole value is a reference into the secrets store. */
const REFERENCE = /^secret:([A-Z][A-Z0-9_]{0,63})$/;
/**
 * Only credential keys are resolved (api_key, token, bot_token, signing_secret, password, …). A
 * prompt or a name that happens to read `secret:X` stays text: resolving it would hand a secret to
 * the model.
 */
const CREDENTIAL_KEY = /(key|token|secret|password)$/i;

export interface SecretReference {
  /** The config key as written in spacebot.toml, e.g. `providers.anthropic.api_key`. */
  key: string;
  secret: string;
}

/**
 * Replaces, in place, every credential value of the resolved config that is exactly `secret:NAME`
 * with the stored value. In place on purpose: the config object was handed around before the
 * database opened, and every holder must see the resolved value. A missing secret stops start with
 * one line naming the config key and the secret. The database URL cannot refer to the store it lives in.
 */
export function resolveSecretReferences(config: SpacebotConfig, values: ReadonlyMap<string, string>): SecretReference[] {
  const resolved: SecretReference[] = [];
  const visit = (node: unknown, at: string[]): void => {
    if (!node || typeof node !== 'object') return;
    for (const [field, value] of Object.entries(node as Record<string, unknown>)) {
      const here = [...at, snake(field)];
      if (typeof value === 'string') {
        const match = REFERENCE.exec(value);
        if (!match || !CREDENTIAL_KEY.test(field)) continue;
        const name = match[1] as string;
        const secret = values.get(name);
        const key = here.join('.');
        if (secret === undefined) {
          throw new ConfigError(`${config.source ?? 'configuration'}: "${key}": secret ${name} is not in the secrets store (add it: spacebot secrets set ${name})`);
        }
        (node as Record<string, unknown>)[field] = secret;
        resolved.push({ key, secret: name });
      } else if (value && typeof value === 'object') {
        visit(value, here);
      }
    }
  };
  visit(config.providers, ['providers']);
  // Adapter tables as the operator wrote them: adapters.<kind>.<instance>.<key>.
  for (const adapter of config.adapters) visit(adapter.settings, ['adapters', adapter.kind, adapter.instance]);
  visit(config.memory, ['memory']);
  return resolved;
}

/** Resolved config keys are camelCase; the operator wrote snake_case. */
function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
