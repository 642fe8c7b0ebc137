import {
  NATIVE_KEY_ENV,
  PROVIDER_PRESETS,
  type ModelRef,
  type NativeProviderId,
  type ProviderKind,
  type ProvidersConfig,
} from '../config/types.js';
import { LlmError, registerSecret } from './errors.js';
import { AnthropicProvider } from './providers/anthropic.js';
import { OpenAiProvider } from './providers/openai.js';
import type { LlmProvider } from './types.js';

/** Everything needed to build one provider's client. */
export interface ProviderSettings {
  name: string;
  kind: ProviderKind;
  /** True for `anthropic` and `openai` themselves (not for endpoints that only speak their protocol). */
  native: boolean;
  apiKey?: string;
  baseUrl?: string;
  timeoutMs?: number;
  /** Where the key would come from, for the "needs an API key" message; undefined when no key is needed. */
  keyEnv?: string;
}

/** The settings of a provider by name: config entry, else preset (ollama, lmstudio need no entry). */
export function providerSettings(providers: ProvidersConfig, name: string): ProviderSettings | undefined {
  const entry = providers[name];
  if (name === 'anthropic' || name === 'openai') {
    const id: NativeProviderId = name;
    return { name, kind: id, native: true, apiKey: entry?.apiKey, baseUrl: entry?.baseUrl, timeoutMs: entry?.timeoutMs, keyEnv: NATIVE_KEY_ENV[id] };
  }
  const preset = PROVIDER_PRESETS[name];
  if (preset) {
    return {
      name,
      kind: preset.kind,
      native: false,
      apiKey: entry?.apiKey,
      baseUrl: entry?.baseUrl ?? preset.baseUrl,
      timeoutMs: entry?.timeoutMs,
      keyEnv: preset.keyEnv,
    };
  }
  if (!entry?.kind) return undefined;
  return { name, kind: entry.kind, native: false, apiKey: entry.apiKey, baseUrl: entry.baseUrl, timeoutMs: entry.timeoutMs };
}

/**
 * Builds provider clients once per process, from the config's keys and base URLs. Every configured
 * key is registered with the scrubber so it never appears in a log line or a user-facing message.
 */
export class ProviderRegistry {
  private readonly cache = new Map<string, LlmProvider>();

  constructor(private readonly providers: ProvidersConfig) {
    for (const p of Object.values(providers)) if (p.apiKey) registerSecret(p.apiKey);
  }

  /** The provider's settings (timeouts included), or undefined for a name the config does not know. */
  settings(name: string): ProviderSettings | undefined {
    return providerSettings(this.providers, name);
  }

  get(ref: ModelRef | undefined): LlmProvider {
    if (!ref) {
      throw new LlmError('not_configured', 'no language model is configured. Set ANTHROPIC_API_KEY or OPENAI_API_KEY (or a model in spacebot.toml) and restart.');
    }
    const cached = this.cache.get(ref.provider);
    if (cached) return cached;
    const settings = this.settings(ref.provider);
    if (!settings) throw new LlmError('not_configured', `the model ${ref.provider}/${ref.model} names an unknown provider "${ref.provider}".`);
    // Custom endpoints without a key (a local server) get a placeholder: the SDKs insist on one, and
    // must not fall back to OPENAI_API_KEY / ANTHROPIC_API_KEY from the environment.
    if (!settings.apiKey && settings.keyEnv) {
      throw new LlmError(
        'not_configured',
        `the model ${ref.provider}/${ref.model} needs an API key: set ${settings.keyEnv} or providers.${ref.provider}.api_key.`,
      );
    }
    const options = { apiKey: settings.apiKey ?? 'no-key', baseUrl: settings.baseUrl, timeoutMs: settings.timeoutMs, name: settings.name, native: settings.native };
    const provider = settings.kind === 'anthropic' ? new AnthropicProvider(options) : new OpenAiProvider(options);
    this.cache.set(ref.provider, provider);
    return provider;
  }
}
