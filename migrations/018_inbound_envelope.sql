-- The rest of an intake message beside its body (sender, direct or group chat, the binding's autonomy),
-- as JSON. A channel run that is closed (terminated, reset) loses the messages it had queued; the next
-- run finds them here (activities/recover-channel.ts) and answers them as they were sent, under the
-- autonomy their binding gave them. NULL in rows written before this column.
ALTER TABLE inbound_bodies ADD COLUMN envelope jsonb;
