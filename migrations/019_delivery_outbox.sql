-- The delivery outbox (docs/adapters.md, "Delivery guarantees"): one protocol for every platform
-- and the heartbeat path. An attempt claims its delivery row with a lease (owner + expiry, compared
-- with the database's clock so workers' clocks do not matter) and renews it while it posts; another
-- attempt finds the lease held and does not post. Each part of a split reply is recorded the moment
-- it is posted, so an attempt on another worker posts only the parts still missing. A delivery that
-- exhausts its retry budget is `failed` (with failed_at and its last error) and the conversation
-- goes on; operators list them with GET /v1/deliveries?status=failed.
ALTER TABLE deliveries
  ADD COLUMN lease_owner text,
  ADD COLUMN lease_expires_at timestamptz,
  -- Platform message ids of the parts already posted, in order (a JSON array of strings).
  ADD COLUMN posted_parts jsonb NOT NULL DEFAULT '[]'::jsonb,
  ADD COLUMN failed_at timestamptz;

CREATE INDEX deliveries_failed_idx ON deliveries (failed_at DESC) WHERE status = 'failed';

-- Streamed drafts are posted by one model call attempt at a time: the attempt holding a step's
-- lease. A retry (possibly on another worker) waits for the earlier attempt's lease to be released
-- or to expire before it reads the step's drafts, so a draft still being posted is never missed;
-- `generation` (the activity attempt) keeps a superseded attempt from ever taking it back.
CREATE TABLE stream_leases (
  channel_id text NOT NULL,
  turn_seq integer NOT NULL,
  step integer NOT NULL,
  owner text NOT NULL,
  generation integer NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (channel_id, turn_seq, step)
);
