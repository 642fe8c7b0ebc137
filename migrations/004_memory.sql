-- Memory system core: typed, scoped memories (table from 001_init), typed edges between them,
-- idempotent saves, and an archive for pruned and merged memories. See docs/memory.md.

-- The memories table has been unused until now; these constraints hold for every row written by it.
ALTER TABLE memories
  ADD COLUMN idempotency_key text,
  ADD CONSTRAINT memories_type_check
    CHECK (type IN ('fact', 'preference', 'decision', 'identity', 'event', 'observation', 'goal', 'todo', 'person')),
  ADD CONSTRAINT memories_scope_check
    CHECK ((scope_kind = 'agent' AND scope_id IS NULL) OR (scope_kind IN ('user', 'chat') AND scope_id IS NOT NULL)),
  ADD CONSTRAINT memories_importance_check CHECK (importance >= 0 AND importance <= 1),
  -- NULL keys are distinct, so saves without a key are unconstrained.
  ADD CONSTRAINT memories_agent_idempotency_key UNIQUE (agent_id, idempotency_key);

CREATE INDEX memories_agent_scope_idx ON memories (agent_id, scope_kind, scope_id);
CREATE INDEX memories_agent_created_idx ON memories (agent_id, created_at DESC, id DESC);
CREATE INDEX memories_agent_updated_idx ON memories (agent_id, updated_at DESC);
CREATE INDEX memories_agent_importance_idx ON memories (agent_id, importance DESC);

-- Directed, typed edges; both ends belong to agent_id (enforced by lib/memory/store.ts).
CREATE TABLE memory_edges (
  agent_id   text NOT NULL REFERENCES agents (id),
  from_id    uuid NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
  to_id      uuid NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
  type       text NOT NULL
    CHECK (type IN ('related_to', 'updates', 'contradicts', 'caused_by', 'result_of', 'part_of')),
  weight     real NOT NULL DEFAULT 1 CHECK (weight > 0 AND weight <= 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (from_id, to_id, type),
  CHECK (from_id <> to_id)
);
CREATE INDEX memory_edges_to_idx ON memory_edges (to_id);
CREATE INDEX memory_edges_agent_idx ON memory_edges (agent_id);

-- Pruned and merged memories, kept for audit and recovery. No foreign keys: an archived row must
-- outlive its memory (and may outlive its edges' other ends).
CREATE TABLE memory_archive (
  id               uuid PRIMARY KEY,
  agent_id         text NOT NULL,
  content          text NOT NULL,
  type             text NOT NULL,
  importance       real NOT NULL,
  scope_kind       text NOT NULL,
  scope_id         text,
  source_channel   text,
  source_message   text,
  idempotency_key  text,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  last_accessed_at timestamptz NOT NULL,
  access_count     integer NOT NULL,
  embedding        vector(384),
  reason           text NOT NULL CHECK (reason IN ('pruned', 'merged')),
  merged_into      uuid,
  archived_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memory_archive_agent_idx ON memory_archive (agent_id, archived_at);
CREATE INDEX memory_archive_key_idx ON memory_archive (agent_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
