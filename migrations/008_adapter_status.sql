-- Chat adapter status, written by the gateway process (lib/gateway/status-store.ts) and read by the
-- API's /health and GET /v1/adapters, which may run in another process. One row per adapter instance.
CREATE TABLE adapter_status (
  kind text NOT NULL,
  instance text NOT NULL,
  platform text NOT NULL,
  state text NOT NULL CHECK (state IN ('starting', 'connected', 'reconnecting', 'stopped', 'failed')),
  since timestamptz NOT NULL,
  -- Scrubbed of tokens by the adapter.
  last_error text,
  bot_user text,
  -- Refreshed every [gateway] status_interval_ms: an old value means the gateway is gone.
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, instance)
);
