-- Approvals of supervised workers: one row per shell command or file write that waits for an
-- operator. The row is the record of the decision (the API, the CLI and platform reactions change it
-- only while pending and not expired); the worker is signalled to read it.
CREATE TABLE approvals (
  id text PRIMARY KEY,
  agent_id text NOT NULL,
  worker_id text NOT NULL,
  channel_id text NOT NULL,
  platform text NOT NULL,
  conversation_id text NOT NULL,
  tool text NOT NULL,
  summary text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'timed_out', 'expired')),
  notice_message_id text,
  decided_by text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  decided_at timestamptz
);
CREATE INDEX approvals_agent_status_idx ON approvals (agent_id, status, created_at);
CREATE INDEX approvals_notice_idx ON approvals (platform, conversation_id, notice_message_id) WHERE notice_message_id IS NOT NULL;
