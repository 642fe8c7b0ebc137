-- Heartbeats' circuit breaker: consecutive failed runs per schedule. The schedules themselves (spec,
-- prompt, target) live in Temporal; only this counter, which must survive restarts and be updated
-- from activities, lives here.
CREATE TABLE heartbeat_failures (
  schedule_id           text PRIMARY KEY,
  agent_id              text NOT NULL,
  heartbeat_id          text NOT NULL,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  -- The run last counted: a retried activity does not count the same run twice.
  last_run_id           text,
  last_error            text,
  updated_at            timestamptz NOT NULL DEFAULT now()
);
