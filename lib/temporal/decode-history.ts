import type { Payload, PayloadCodec } from '@temporalio/common';
import { ENCRYPTED_ENCODING } from './payload-codec.js';

/** Payloads nest far less deep than this in any history event; the cap only bounds a hostile document. */
const MAX_DEPTH = 64;

/**
 * A fetched history with every encrypted payload decoded through `codecs` (the client's data
 * converter's), for readers of raw history: run timelines and replays. `fetchHistory()` returns what
 * the server stores, and with `[temporal] encrypt_history` that is ciphertext. Plain payloads and
 * everything else are left as they are; the input is not modified.
 */
export async function decodeHistory<T>(history: T, codecs: readonly PayloadCodec[]): Promise<T> {
  if (!codecs.length) return history;
  const walk = async (node: unknown, depth: number): Promise<unknown> => {
    if (!node || typeof node !== 'object' || depth > MAX_DEPTH || node instanceof Uint8Array) return node;
    if (Array.isArray(node)) return Promise.all(node.map((item) => walk(item, depth + 1)));
    if (isEncryptedPayload(node)) {
      let payloads: Payload[] = [node];
      for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
      return payloads[0];
    }
    const out: Record<string, unknown> = Object.create(Object.getPrototypeOf(node) as object | null) as Record<string, unknown>;
    for (const [key, value] of Object.entries(node)) out[key] = await walk(value, depth + 1);
    return out;
  };
  return (await walk(history, 0)) as T;
}

function isEncryptedPayload(node: object): node is Payload {
  const p = node as { metadata?: Record<string, unknown> | null; data?: unknown };
  const encoding = p.metadata?.encoding;
  return encoding instanceof Uint8Array && Buffer.from(encoding).toString() === ENCRYPTED_ENCODING;
}
