import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { ChannelClient } from '../lib/channel/channel-client.js';
import type { SpacebotConfig } from '../lib/config/types.js';
import type { Database } from '../lib/db/schema.js';
import type { Logger } from '../lib/logger.js';
import type { Embedder } from '../lib/memory/embedder.js';
import type { SecretStore } from '../lib/secrets/store.js';
import type { AesGcmPayloadCodec } from '../lib/temporal/payload-codec.js';

/** What the API's routes need, injected by whoever builds the server (the app or a test). */
export interface ApiContext {
  config: SpacebotConfig;
  db: Kysely<Database>;
  temporal: Client;
  /** host:port of the Temporal frontend `temporal` talks to, for helpers run in child processes. */
  temporalAddress: string;
  channels: ChannelClient;
  logger: Logger;
  /** Base URL of the Temporal Web UI for deep links, when one is known. */
  temporalUiUrl?: string;
  /** Bearer token every /v1 route requires. */
  apiToken: string;
  /** Embeds memories created through the API; absent or null: saved without vectors (full-text recall still finds them). */
  embedder?: Embedder | null;
  /** The encrypted secrets store (/v1/secrets); absent: those routes answer 503. */
  secrets?: SecretStore;
  /** The payload codec the Temporal UI's codec endpoint uses (/v1/codec); absent: 503. */
  codec?: AesGcmPayloadCodec;
}
