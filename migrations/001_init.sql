-- Spacebot's base schema: agents, their conversations (channels), the transcript, outbound delivery
-- keys, the LLM context of each channel, token usage, and the memory store used by the memory system.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE agents (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per conversation; id is the channel workflow id.
CREATE TABLE channels (
  id              text PRIMARY KEY,
  agent_id        text NOT NULL REFERENCES agents (id),
  platform        text NOT NULL,
  conversation_id text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_message_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (agent_id, platform, conversation_id)
);

-- Every inbound and outbound message. The unique key makes recording idempotent under retries.
CREATE TABLE messages (
  id                  bigserial PRIMARY KEY,
  channel_id          text NOT NULL REFERENCES channels (id),
  direction           text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  platform_message_id text NOT NULL,
  sender_id           text,
  sender_name         text,
  text                text NOT NULL,
  reply_to            text,
  turn_seq            integer,
  created_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel_id, direction, platform_message_id)
);
CREATE INDEX messages_channel_id_idx ON messages (channel_id, id);
CREATE INDEX messages_channel_turn_idx ON messages (channel_id, turn_seq);

-- Outbound idempotency: one row per delivery key; a retried delivery finds it and does not post again.
CREATE TABLE deliveries (
  key                 text PRIMARY KEY,
  channel_id          text NOT NULL REFERENCES channels (id),
  message_id          bigint NOT NULL REFERENCES messages (id),
  platform            text NOT NULL,
  status              text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  platform_message_id text,
  attempts            integer NOT NULL DEFAULT 0,
  last_error          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  delivered_at        timestamptz
);

-- The channel's LLM context, addressed by the workflow's position (turn, step, index) so an LLM call
-- sees exactly the entries before its own position, also after a retry or a reset.
CREATE TABLE context_entries (
  channel_id text NOT NULL REFERENCES channels (id),
  turn_seq   integer NOT NULL,
  step       integer NOT NULL,
  idx        integer NOT NULL,
  role       text NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
  content    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, turn_seq, step, idx)
);

-- Token usage of every LLM call attempt that returned usage.
CREATE TABLE llm_calls (
  id                 bigserial PRIMARY KEY,
  call_key           text NOT NULL UNIQUE,
  agent_id           text NOT NULL,
  channel_id         text,
  process            text NOT NULL,
  provider           text NOT NULL,
  model              text NOT NULL,
  input_tokens       integer NOT NULL,
  output_tokens      integer NOT NULL,
  cache_read_tokens  integer NOT NULL DEFAULT 0,
  cache_write_tokens integer NOT NULL DEFAULT 0,
  latency_ms         integer NOT NULL,
  stop_reason        text,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_calls_agent_time_idx ON llm_calls (agent_id, created_at);

-- Typed memories with a 384-dimension embedding (all-MiniLM-L6-v2) and a full-text vector.
CREATE TABLE memories (
  id               uuid PRIMARY KEY,
  agent_id         text NOT NULL REFERENCES agents (id),
  content          text NOT NULL,
  type             text NOT NULL,
  importance       real NOT NULL,
  scope_kind       text NOT NULL DEFAULT 'agent',
  scope_id         text,
  source_channel   text,
  source_message   text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  last_accessed_at timestamptz NOT NULL DEFAULT now(),
  access_count     integer NOT NULL DEFAULT 0,
  embedding        vector(384),
  tsv              tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED
);
CREATE INDEX memories_agent_idx ON memories (agent_id, type);
CREATE INDEX memories_embedding_idx ON memories USING hnsw (embedding vector_cosine_ops);
CREATE INDEX memories_tsv_idx ON memories USING gin (tsv);
