-- Request counters of the API's rate limits (api/postgres-rate-limit-store.ts), shared by every API
-- process: with two processes each keeping its own counters in memory, a caller would get the full
-- rate from each. One fixed window per key; one upsert per request starts, counts or restarts it.
-- Keys never hold a raw API token: `token:` keys carry a SHA-256 digest of the Authorization header.
CREATE TABLE api_rate_limits (
  key         text PRIMARY KEY,
  count       bigint NOT NULL,
  expires_at  timestamptz NOT NULL
);
-- Expired windows are swept in bounded batches (at most once a minute per API process).
CREATE INDEX api_rate_limits_expires_at ON api_rate_limits (expires_at);
