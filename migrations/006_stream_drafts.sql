-- Streamed replies on platforms that edit messages in place (docs/models.md, "Streaming"): the draft
-- message a callModel activity posted while the model was answering, under the delivery key that
-- will finalise it. deliverReply edits the draft into the final text instead of posting again, so
-- a streamed reply is exactly one visible message, also when the activity or the delivery is retried.
CREATE TABLE stream_drafts (
  delivery_key text PRIMARY KEY,
  channel_id text NOT NULL,
  turn_seq integer NOT NULL,
  step integer NOT NULL,
  platform text NOT NULL,
  conversation_id text NOT NULL,
  platform_message_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A retried callModel finds the drafts of its step (to reuse them rather than post more).
CREATE INDEX stream_drafts_step_idx ON stream_drafts (channel_id, turn_seq, step);
