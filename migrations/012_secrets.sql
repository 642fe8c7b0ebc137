-- The encrypted secrets store (lib/secrets/store.ts): one AES-256-GCM ciphertext per name,
-- nonce ‖ ciphertext ‖ tag, with the secret's name as additional data (a row copied under another
-- name does not decrypt). key_id is the master key's fingerprint, so a rotation finds old rows.
CREATE TABLE secrets (
  name text PRIMARY KEY CHECK (name ~ '^[A-Z][A-Z0-9_]{0,63}$'),
  key_id text NOT NULL,
  ciphertext bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX secrets_key_id_idx ON secrets (key_id);
