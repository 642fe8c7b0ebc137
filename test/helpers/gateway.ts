import type { BindingConfig } from '../../lib/gateway/config.js';

/**
 * TOML snippets for harnesses that run the gateway (createHarness({ toml, gateway: { env } })):
 * adapter tables and bindings, rendered from plain objects so tests read like the config they mean.
 */
type TomlValue = string | number | boolean | (string | number)[];

function tomlValue(value: TomlValue): string {
  if (Array.isArray(value)) return `[${value.map((v) => tomlValue(v)).join(', ')}]`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** `[adapters.<kind>.<instance>]` with the given keys. */
export function adapterToml(kind: string, instance: string, settings: Record<string, TomlValue>): string {
  const lines = Object.entries(settings).map(([key, value]) => `${key} = ${tomlValue(value)}`);
  return `\n[adapters.${kind}.${instance}]\n${lines.join('\n')}\n`;
}

/** `[[bindings]]` entries, in order (first match wins). */
export function bindingsToml(bindings: BindingConfig[]): string {
  return bindings
    .map((binding) => {
      const lines = Object.entries(binding)
        .filter(([, v]) => v !== undefined)
        .map(([key, value]) => `${key} = ${tomlValue(value as TomlValue)}`);
      return `\n[[bindings]]\n${lines.join('\n')}\n`;
    })
    .join('');
}

/** `[[agents]]` entries with the given ids. */
export function agentsToml(ids: string[]): string {
  return ids.map((id) => `\n[[agents]]\nid = "${id}"\n`).join('');
}
