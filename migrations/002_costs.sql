-- Costs: every llm_calls row carries its price in USD and whether the model was priced by the
-- configured default (an unknown model: fix [pricing]); budget warnings are announced once per
-- agent and period, and the row remembers which call announced it (so a retried call repeats it).
ALTER TABLE llm_calls
  ADD COLUMN cost_usd          numeric(18, 8) NOT NULL DEFAULT 0,
  ADD COLUMN priced_by_default boolean NOT NULL DEFAULT false;

CREATE TABLE budget_notices (
  agent_id     text NOT NULL,
  period       text NOT NULL CHECK (period IN ('day', 'month')),
  period_start date NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('warning')),
  channel_id   text,
  turn_seq     integer,
  step         integer,
  spent_usd    numeric(18, 8) NOT NULL,
  cap_usd      numeric(18, 8) NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, period, period_start, kind)
);
