-- Which conversation made a heartbeat with the `cron` tool. The tool sees and changes only the
-- heartbeats of its own conversation (never the operator's from the API or the config), and a
-- conversation may keep only a few: both rules read this table. The schedule itself stays in Temporal.
CREATE TABLE heartbeat_tool_owners (
  schedule_id  text PRIMARY KEY,
  agent_id     text NOT NULL,
  heartbeat_id text NOT NULL,
  channel_id   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX heartbeat_tool_owners_channel ON heartbeat_tool_owners (channel_id);
