import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Raised when the master key cannot be used; the message is the one line the operator reads. */
export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

/** A 256-bit master key and its public fingerprint (stored next to everything it encrypts). */
export interface MasterKey {
  /** 16 hex digits of a hash of the key: names the key in rows and payloads without revealing it. */
  id: string;
  bytes: Buffer;
}

/** The key to encrypt with, and during a rotation the one data may still be encrypted under. */
export interface MasterKeys {
  current: MasterKey;
  previous?: MasterKey;
  /** Where the current key came from, for log lines (never the key itself). */
  source: string;
}

export const MASTER_KEY_ENV = 'SPACEBOT_MASTER_KEY';
export const PREVIOUS_MASTER_KEY_ENV = 'SPACEBOT_MASTER_KEY_PREVIOUS';
export const MASTER_KEY_FILE = 'master-key';

const KEY_BYTES = 32;

/**
 * The master key from SPACEBOT_MASTER_KEY (base64 or hex), else from `<dataDir>/master-key`,
 * generated there (mode 0600) on first start so a single-process install is encrypted without setup.
 * A key file others can read is refused: a readable key makes the encryption decorative.
 */
export function loadMasterKeys(dataDir: string, env: NodeJS.ProcessEnv = process.env): MasterKeys {
  const previous = env[PREVIOUS_MASTER_KEY_ENV] ? parseMasterKey(env[PREVIOUS_MASTER_KEY_ENV], PREVIOUS_MASTER_KEY_ENV) : undefined;
  const fromEnv = env[MASTER_KEY_ENV];
  const current = fromEnv ? parseMasterKey(fromEnv, MASTER_KEY_ENV) : readOrCreateKeyFile(path.join(dataDir, MASTER_KEY_FILE));
  const source = fromEnv ? MASTER_KEY_ENV : path.join(dataDir, MASTER_KEY_FILE);
  if (previous && previous.id === current.id) {
    throw new MasterKeyError(`${PREVIOUS_MASTER_KEY_ENV} is the same key as ${source}: set ${MASTER_KEY_ENV} to the new key and ${PREVIOUS_MASTER_KEY_ENV} to the old one`);
  }
  return { current, ...(previous ? { previous } : {}), source };
}

/**
 * The keys when some exist (SPACEBOT_MASTER_KEY, or a key file already in the data dir), without
 * creating one: for tools that only read, like the replay script decoding encrypted history.
 */
export function findMasterKeys(dataDir: string, env: NodeJS.ProcessEnv = process.env): MasterKeys | undefined {
  if (!env[MASTER_KEY_ENV] && !existsSync(path.join(dataDir, MASTER_KEY_FILE))) return undefined;
  return loadMasterKeys(dataDir, env);
}

/** 32 bytes given as 64 hex digits or as base64 / base64url (e.g. `openssl rand -base64 32`). */
export function parseMasterKey(text: string, where: string): MasterKey {
  const value = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) bytes = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(value)) bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!bytes || bytes.length !== KEY_BYTES) {
    throw new MasterKeyError(
      `${where}: expected a 32-byte key as 64 hex digits or 44 base64 characters (openssl rand -base64 32), got ${value.length} characters`,
    );
  }
  return masterKey(bytes);
}

export function masterKey(bytes: Buffer): MasterKey {
  return { id: createHash('sha256').update('spacebot master key id\0').update(bytes).digest('hex').slice(0, 16), bytes };
}

function readOrCreateKeyFile(file: string): MasterKey {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    // `wx`: two processes starting together on one data dir must not both write a key.
    try {
      writeFileSync(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new MasterKeyError(`${file} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}): run chmod 600 ${file}`);
  }
  return parseMasterKey(readFileSync(file, 'utf8'), file);
}
