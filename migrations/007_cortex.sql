-- The cortex (docs/memory.md): the rendered memory context each channel call includes, and the
-- results of each maintenance pass's steps, so a retried step answers with its first result instead
-- of running again (decay is not idempotent: running it twice would decay twice).

-- One rendered context per agent and visibility scope ('agent', 'user:<id>', 'chat:<id>').
-- `text` changes only when the memories it shows (or their order) change; `hash` is its SHA-256 and
-- `memory_version` counts those changes, so callers can cache on either.
CREATE TABLE memory_context (
  agent_id       text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  scope_key      text NOT NULL DEFAULT 'agent',
  text           text NOT NULL,
  hash           text NOT NULL,
  memory_count   integer NOT NULL,
  word_count     integer NOT NULL,
  memory_version bigint NOT NULL DEFAULT 1,
  rendered_at    timestamptz NOT NULL DEFAULT now(),
  checked_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, scope_key)
);

-- One row per (agent, pass, step) of the cortex: written in the same transaction as the step's
-- effect where the step is not idempotent by itself (decay).
CREATE TABLE cortex_steps (
  agent_id   text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  pass_key   text NOT NULL,
  step       text NOT NULL,
  result     jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, pass_key, step)
);
CREATE INDEX cortex_steps_created_idx ON cortex_steps (created_at);
