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
}

export interface Database {
  agents: AgentsTable;
  channels: ChannelsTable;
  messages: MessagesTable;
  deliveries: DeliveriesTable;
  context_entries: ContextEntriesTable;
  llm_calls: LlmCallsTable;
}
