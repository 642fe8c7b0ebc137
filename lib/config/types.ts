/** The resolved, validated configuration the rest of the code reads (camelCase, defaults applied). */

export type ProviderId = 'anthropic' | 'openai';
export const PROVIDER_IDS: readonly ProviderId[] = ['anthropic', 'openai'];

export interface ProviderConfig {
  apiKey?: string;
  baseUrl?: string;
}

export interface ModelRef {
  provider: ProviderId;
  model: string;
}

export interface AgentConfig {
  id: string;
  name: string;
  /** Undefined when no provider has a key: turns then answer with a clear configuration error. */
  model?: ModelRef;
  promptsDir: string;
  workspace: string;
  maxLlmCallsPerTurn: number;
  maxOutputTokens: number;
}

export interface SpacebotConfig {
  /** The file the config was read from, if any; named in error messages. */
  source?: string;
  dataDir: string;
  server: { port: number; host: string; bodyLimitBytes: number; apiToken?: string; temporalUiUrl?: string };
  temporal: { address?: string; namespace: string; taskQueue: string; devServerPort: number; devUiPort: number };
  database: { url?: string; poolSize: number };
  providers: Record<ProviderId, ProviderConfig>;
  continueAsNewAfterTurns: number;
  historyTurns: number;
  agents: AgentConfig[];
}
