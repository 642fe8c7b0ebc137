import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM as every encrypted thing in Spacebot uses it: a fresh random 12-byte nonce per
 * message (never reused under one key at our volumes: 2^-32 collision odds only after 2^32
 * messages), a 16-byte tag, and additional data that binds the ciphertext to where it belongs.
 */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Raised when a ciphertext does not authenticate: wrong key, or altered bytes. */
export class DecryptionError extends Error {
  override name = 'DecryptionError';
}

/** One key per purpose from the master key, so a secret row can never be replayed as a payload. */
export function deriveKey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `spacebot ${purpose}`, 32));
}

/** nonce ‖ ciphertext ‖ tag. */
export function seal(key: Buffer, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

export function open(key: Buffer, sealed: Uint8Array, aad: Uint8Array): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new DecryptionError('ciphertext is too short');
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, NONCE_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new DecryptionError('ciphertext does not authenticate (wrong key or altered bytes)');
  }
}
