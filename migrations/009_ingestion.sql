-- Ingestion of documents into memories (docs/memory.md, "Ingestion").
--
-- ingest_files: one row per agent and file content (SHA-256 of the bytes): its progress, as the
-- ingestion workflow `ingest:<agent>:<sha256>` reports it, and for uploads the bytes themselves until
-- the file is done (the API process may not share the worker's disk).
CREATE TABLE ingest_files (
  agent_id        text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  file_sha256     text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
  filename        text NOT NULL,
  -- upload: POST /v1/agents/:agent/ingest; folder: <workspace>/ingest/<filename>.
  source          text NOT NULL CHECK (source IN ('upload', 'folder')),
  content         bytea,
  size_bytes      integer NOT NULL,
  workflow_id     text NOT NULL,
  status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  chunks_total    integer,
  -- Chunks handled (extracted or skipped as already ingested), skipped, and memories saved.
  chunks_done     integer NOT NULL DEFAULT 0,
  chunks_skipped  integer NOT NULL DEFAULT 0,
  memories_saved  integer NOT NULL DEFAULT 0,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  PRIMARY KEY (agent_id, file_sha256)
);
CREATE INDEX ingest_files_agent_created_idx ON ingest_files (agent_id, created_at DESC);

-- The chunks of a file in order, written once when the workflow prepares the file, so a resumed
-- workflow reads chunk N from here instead of parsing the file again.
CREATE TABLE ingest_file_chunks (
  agent_id      text NOT NULL,
  file_sha256   text NOT NULL,
  seq           integer NOT NULL,
  chunk_sha256  text NOT NULL,
  content       text NOT NULL,
  PRIMARY KEY (agent_id, file_sha256, seq),
  FOREIGN KEY (agent_id, file_sha256) REFERENCES ingest_files (agent_id, file_sha256) ON DELETE CASCADE
);

-- Chunks whose memories have been extracted, per agent: a chunk seen again (in this file or any
-- other) is skipped, so re-ingesting is a no-op.
CREATE TABLE ingest_chunks (
  agent_id        text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  chunk_sha256    text NOT NULL,
  file_sha256     text NOT NULL,
  seq             integer NOT NULL,
  memories_saved  integer NOT NULL,
  ingested_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, chunk_sha256)
);
