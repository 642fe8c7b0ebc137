-- Branches and workers keep their own LLM context under their workflow id, like a channel; the
-- channels row says which process it is and which channel it belongs to.
ALTER TABLE channels
  ADD COLUMN process text NOT NULL DEFAULT 'channel' CHECK (process IN ('channel', 'branch', 'worker')),
  ADD COLUMN parent_id text REFERENCES channels (id);
CREATE INDEX channels_parent_idx ON channels (parent_id) WHERE parent_id IS NOT NULL;
