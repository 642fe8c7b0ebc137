import type { ModelRef, SpacebotConfig } from '../config/types.js';
import { LlmError } from './errors.js';
import { AnthropicProvider } from './providers/anthropic.js';
import { OpenAiProvider } from './providers/openai.js';
import type { LlmProvider } from './types.js';

/** Builds provider clients once per process, from the config's keys and base URLs. */
export class ProviderRegistry {
  private readonly cache = new Map<string, LlmProvider>();

  constructor(private readonly providers: SpacebotConfig['providers']) {}

  get(ref: ModelRef | undefined): LlmProvider {
    if (!ref) {
      throw new LlmError('not_configured', 'no language model is configured. Set ANTHROPIC_API_KEY or OPENAI_API_KEY (or a model in spacebot.toml) and restart.');
    }
    const cached = this.cache.get(ref.provider);
    if (cached) return cached;
    const settings = this.providers[ref.provider];
    if (!settings.apiKey) {
      const envName = ref.provider === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY';
      throw new LlmError('not_configured', `the model ${ref.provider}/${ref.model} needs an API key: set ${envName} or providers.${ref.provider}.api_key.`);
    }
    const options = { apiKey: settings.apiKey, baseUrl: settings.baseUrl };
    const provider = ref.provider === 'anthropic' ? new AnthropicProvider(options) : new OpenAiProvider(options);
    this.cache.set(ref.provider, provider);
    return provider;
  }
}
