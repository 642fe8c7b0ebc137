import { deriveKey } from '../secrets/cipher.js';
import type { MasterKey, MasterKeys } from '../secrets/master-key.js';

/**
 * The key Temporal payloads are encrypted with: HKDF of the master key for this one purpose, named by
 * the master key's id (the id already in every encrypted payload's metadata, so histories recorded
 * before payload keys could be exported still decode). It opens history payloads and nothing else:
 * the secrets store uses another derived key (lib/secrets/store.ts), and HKDF cannot be run backwards
 * to the master key. That is why the tools service may hold it (docs/security.md, "History at rest").
 */
export interface PayloadKey {
  /** The master key's id (16 hex digits): public, it is in every payload it encrypted. */
  id: string;
  key: Buffer;
}

export interface PayloadKeys {
  current: PayloadKey;
  previous?: PayloadKey;
}

export const PAYLOAD_KEY_ENV = 'SPACEBOT_PAYLOAD_KEY';
export const PREVIOUS_PAYLOAD_KEY_ENV = 'SPACEBOT_PAYLOAD_KEY_PREVIOUS';
/** Changing it changes every payload key: recorded histories would no longer decode. */
const PURPOSE = 'temporal payload codec v1';

/** Raised for a payload key that cannot be used; the message is the one line the operator reads. */
export class PayloadKeyFormatError extends Error {
  override name = 'PayloadKeyFormatError';
}

export function derivePayloadKey(master: MasterKey): PayloadKey {
  return { id: master.id, key: deriveKey(master.bytes, PURPOSE) };
}

export function derivePayloadKeys(keys: Pick<MasterKeys, 'current' | 'previous'>): PayloadKeys {
  return { current: derivePayloadKey(keys.current), ...(keys.previous ? { previous: derivePayloadKey(keys.previous) } : {}) };
}

/** `<key id>:<base64 key>`: one value for an environment variable, the id checked on the way back in. */
export function formatPayloadKey(key: PayloadKey): string {
  return `${key.id}:${key.key.toString('base64')}`;
}

export function parsePayloadKey(text: string, where: string): PayloadKey {
  const match = /^([0-9a-f]{16}):([A-Za-z0-9+/]{43}=)$/.exec(text.trim());
  const key = match ? Buffer.from(match[2]!, 'base64') : undefined;
  if (!match || key?.length !== 32) {
    // Never echoes the value: it may be a key pasted into the wrong variable.
    throw new PayloadKeyFormatError(
      `${where}: expected "<16 hex digit key id>:<44 base64 characters>" as printed by \`spacebot keys payload-key\`, got ${text.trim().length} characters`,
    );
  }
  return { id: match[1]!, key };
}

/** SPACEBOT_PAYLOAD_KEY (and _PREVIOUS during a rotation), or undefined when it is not set. */
export function payloadKeysFromEnv(env: NodeJS.ProcessEnv): PayloadKeys | undefined {
  const current = env[PAYLOAD_KEY_ENV]?.trim();
  const previousText = env[PREVIOUS_PAYLOAD_KEY_ENV]?.trim();
  if (!current) {
    if (previousText) throw new PayloadKeyFormatError(`${PREVIOUS_PAYLOAD_KEY_ENV} is set but ${PAYLOAD_KEY_ENV} is not: set ${PAYLOAD_KEY_ENV} to the current payload key`);
    return undefined;
  }
  const keys: PayloadKeys = { current: parsePayloadKey(current, PAYLOAD_KEY_ENV) };
  if (previousText) {
    keys.previous = parsePayloadKey(previousText, PREVIOUS_PAYLOAD_KEY_ENV);
    if (keys.previous.id === keys.current.id) {
      throw new PayloadKeyFormatError(`${PREVIOUS_PAYLOAD_KEY_ENV} is the same key as ${PAYLOAD_KEY_ENV}: set ${PAYLOAD_KEY_ENV} to the new key and ${PREVIOUS_PAYLOAD_KEY_ENV} to the old one`);
    }
  }
  return keys;
}
