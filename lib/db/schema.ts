import type { ColumnType, Generated } from 'kysely';

/** Kysely's view of the tables created by migrations/. Keep in step with the SQL. */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface AgentsTable {
  id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ChannelsTable {
  id: string;
  agent_id: string;
  platform: string;
  conversation_id: string;
  created_at: Timestamp;
  last_message_at: Timestamp;
  /** 010_processes: branches and workers have rows of their own, linked to their channel. */
  process: Generated<'channel' | 'branch' | 'worker'>;
  parent_id: string | null;
}

export interface MessagesTable {
  id: Generated<string>;
  channel_id: string;
  direction: 'inbound' | 'outbound';
  platform_message_id: string;
  sender_id: string | null;
  sender_name: string | null;
  text: string;
  reply_to: string | null;
  turn_seq: number | null;
  created_at: Timestamp;
}

export interface DeliveriesTable {
  key: string;
  channel_id: string;
  message_id: string;
  platform: string;
  status: 'pending' | 'delivered' | 'failed';
  platform_message_id: string | null;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
  /** The attempt posting it now (migrations/019); null or expired: free to claim. */
  lease_owner: string | null;
  lease_expires_at: Timestamp | null;
  /** Platform message ids of the parts already posted, in order. */
  posted_parts: ColumnType<string[], string | undefined, string>;
  failed_at: Timestamp | null;
}

/** Which model call attempt may post and edit a step's streamed drafts (migrations/019). */
export interface StreamLeasesTable {
  channel_id: string;
  turn_seq: number;
  step: number;
  owner: string;
  generation: number;
  expires_at: Timestamp;
}

export interface ContextEntriesTable {
  channel_id: string;
  turn_seq: number;
  step: number;
  idx: number;
  role: 'user' | 'assistant' | 'tool';
  content: Json<unknown>;
  created_at: Timestamp;
}

export interface LlmCallsTable {
  id: Generated<string>;
  call_key: string;
  agent_id: string;
  channel_id: string | null;
  process: string;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  latency_ms: number;
  stop_reason: string | null;
  created_at: Timestamp;
  /** numeric: read back as a string (exact); written as a number. Added by 002_costs. */
  cost_usd: ColumnType<string, number | string | undefined, number | string>;
  priced_by_default: Generated<boolean>;
}

/** Budget warnings already announced, one per agent, period and period start (002_costs). */
export interface BudgetNoticesTable {
  agent_id: string;
  period: 'day' | 'month';
  /** The period's first day (UTC), `YYYY-MM-DD`. */
  period_start: ColumnType<Date | string, string, string>;
  kind: 'warning';
  channel_id: string | null;
  turn_seq: number | null;
  step: number | null;
  spent_usd: ColumnType<string, number, number>;
  cap_usd: ColumnType<string, number, number>;
  created_at: Timestamp;
}

/** Typed, scoped memories (001_init; idempotency_key and CHECKs from 004_memory). */
export interface MemoriesTable {
  id: string;
  agent_id: string;
  content: string;
  type: string;
  importance: number;
  scope_kind: Generated<'agent' | 'user' | 'chat'>;
  scope_id: string | null;
  source_channel: string | null;
  source_message: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_accessed_at: Timestamp;
  access_count: Generated<number>;
  /** pgvector text form `[x,y,...]`; NULL when saved without an embedder. */
  embedding: string | null;
  idempotency_key: string | null;
  tsv: ColumnType<string, never, never>;
}

/** Typed edges between two memories of one agent (004_memory). */
export interface MemoryEdgesTable {
  agent_id: string;
  from_id: string;
  to_id: string;
  type: string;
  weight: Generated<number>;
  created_at: Timestamp;
}

/** Pruned and merged memories (004_memory). */
export interface MemoryArchiveTable {
  id: string;
  agent_id: string;
  content: string;
  type: string;
  importance: number;
  scope_kind: string;
  scope_id: string | null;
  source_channel: string | null;
  source_message: string | null;
  idempotency_key: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_accessed_at: Timestamp;
  access_count: number;
  embedding: string | null;
  reason: 'pruned' | 'merged';
  merged_into: string | null;
  archived_at: Timestamp;
}

/** Raw context rows of compacted turns, kept before they leave context_entries (005_compaction). */
export interface ConversationArchivesTable {
  id: Generated<string>;
  channel_id: string;
  from_turn: number;
  through_turn: number;
  reason: 'summarise' | 'truncate';
  /** ArchivedEntry[] (lib/compaction/archive.ts), oldest first. */
  entries: Json<unknown>;
  entry_count: number;
  created_at: Timestamp;
}

/** What replaces compacted turns in a channel's context: a summary or a truncation marker (005_compaction). */
export interface ContextSummariesTable {
  id: Generated<string>;
  channel_id: string;
  kind: 'summary' | 'truncation';
  from_turn: number;
  through_turn: number;
  content: string;
  archive_id: string;
  previous_id: string | null;
  model: string | null;
  compaction_key: string;
  created_at: Timestamp;
}

/** Ingestion of files into memories, one row per agent and file content (009_ingestion). */
export interface IngestFilesTable {
  agent_id: string;
  file_sha256: string;
  filename: string;
  source: 'upload' | 'folder';
  /** The uploaded bytes until the file is done; NULL for folder files. */
  content: Buffer | null;
  size_bytes: number;
  workflow_id: string;
  status: Generated<'queued' | 'running' | 'done' | 'failed'>;
  chunks_total: number | null;
  chunks_done: Generated<number>;
  chunks_skipped: Generated<number>;
  memories_saved: Generated<number>;
  error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: Timestamp | null;
}

/** A file's chunks in order (009_ingestion). */
export interface IngestFileChunksTable {
  agent_id: string;
  file_sha256: string;
  seq: number;
  chunk_sha256: string;
  content: string;
}

/** Chunks already extracted into memories, per agent (009_ingestion). */
export interface IngestChunksTable {
  agent_id: string;
  chunk_sha256: string;
  file_sha256: string;
  seq: number;
  memories_saved: number;
  ingested_at: Timestamp;
}

/** Draft messages of streamed replies, finalised by edit (migrations/006_stream_drafts.sql). */
export interface StreamDraftsTable {
  delivery_key: string;
  channel_id: string;
  turn_seq: number;
  step: number;
  platform: string;
  conversation_id: string;
  platform_message_id: string;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

/** migrations/012_secrets.sql: values encrypted by lib/secrets/store.ts. */
export interface SecretsTable {
  name: string;
  key_id: string;
  ciphertext: Buffer;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** migrations/016_api_rate_limits.sql: fixed-window request counters of api/postgres-rate-limit-store.ts. */
export interface ApiRateLimitsTable {
  key: string;
  /** bigint: a string from pg. */
  count: string;
  expires_at: Timestamp;
}

export interface Database {
  api_rate_limits: ApiRateLimitsTable;
  secrets: SecretsTable;
  stream_drafts: StreamDraftsTable;
  agents: AgentsTable;
  channels: ChannelsTable;
  messages: MessagesTable;
  deliveries: DeliveriesTable;
  stream_leases: StreamLeasesTable;
  context_entries: ContextEntriesTable;
  llm_calls: LlmCallsTable;
  budget_notices: BudgetNoticesTable;
  memories: MemoriesTable;
  memory_edges: MemoryEdgesTable;
  memory_archive: MemoryArchiveTable;
  ingest_files: IngestFilesTable;
  ingest_file_chunks: IngestFileChunksTable;
  ingest_chunks: IngestChunksTable;
  conversation_archives: ConversationArchivesTable;
  context_summaries: ContextSummariesTable;
}
