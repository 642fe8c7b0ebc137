-- Message bodies written at intake (lib/channel/inbound-bodies.ts), before the message is handed to
-- its channel workflow. Only the id travels through the update, the workflow's state and its
-- continue-as-new input, so a burst of large messages cannot grow a workflow history or a workflow
-- task past Temporal's size limits. recordInbound copies the body into the transcript (messages)
-- at turn time and deletes it here.
CREATE TABLE inbound_bodies (
  channel_id  text NOT NULL,
  message_id  text NOT NULL,
  text        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, message_id)
);
-- Bodies of messages never answered (refused for a full queue and not retried) are found by age.
CREATE INDEX inbound_bodies_created_at ON inbound_bodies (created_at);
