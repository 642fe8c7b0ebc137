-- Context compaction (issue 3): when a channel's context nears its model's context window, its oldest
-- turns are summarised (or, near the limit, truncated) away. See lib/compaction/.
--
-- Design:
-- * conversation_archives keeps the raw context_entries rows of every compacted turn range, written
--   before those rows leave context_entries (nothing the model once saw is ever lost).
-- * context_summaries holds what replaces them: one row per compaction, covering every turn of the
--   channel up to through_turn. A summary is cumulative (the compactor folds the previous summary
--   into the next one), so the context of an LLM call is the latest summary below its turn, then the
--   raw turns after it. kind 'truncation' is the marker a truncation leaves (the previous summary's
--   text is kept in it; the dropped turns are only in the archive).
-- * The swap (delete the turns, insert the summary) is one transaction and only touches turns up to
--   through_turn, so turns the channel added while the compactor ran survive.

CREATE TABLE conversation_archives (
  id           bigserial PRIMARY KEY,
  channel_id   text NOT NULL REFERENCES channels (id),
  -- The archived turn range, inclusive.
  from_turn    integer NOT NULL,
  through_turn integer NOT NULL,
  -- Why these turns left the context.
  reason       text NOT NULL CHECK (reason IN ('summarise', 'truncate')),
  -- The raw rows, oldest first: [{ turnSeq, step, idx, role, content, createdAt }].
  entries      jsonb NOT NULL,
  entry_count  integer NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (from_turn <= through_turn),
  -- A retried archive activity rewrites its own row instead of adding another.
  UNIQUE (channel_id, from_turn, through_turn)
);
CREATE INDEX conversation_archives_channel_idx ON conversation_archives (channel_id, through_turn);

CREATE TABLE context_summaries (
  id           bigserial PRIMARY KEY,
  channel_id   text NOT NULL REFERENCES channels (id),
  kind         text NOT NULL CHECK (kind IN ('summary', 'truncation')),
  -- The summary stands for turns from_turn..through_turn (from_turn: the first turn ever compacted).
  from_turn    integer NOT NULL,
  through_turn integer NOT NULL,
  -- The text the model reads in place of those turns.
  content      text NOT NULL,
  -- The archive of the turns this compaction removed (older ones are in earlier archives).
  archive_id   bigint NOT NULL REFERENCES conversation_archives (id),
  -- The summary this one replaced, if any.
  previous_id  bigint REFERENCES context_summaries (id),
  -- `provider/model` that wrote a summary; NULL for truncation markers.
  model        text,
  -- Idempotency: the compaction (workflow run, or truncating activity) that wrote the row; a retry
  -- that finds its key returns the row instead of compacting again.
  compaction_key text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (from_turn <= through_turn),
  UNIQUE (channel_id, through_turn)
);
