import type { Payload, PayloadCodec } from '@temporalio/common';
import protobuf from 'protobufjs';
import { DecryptionError, open, seal } from '../secrets/cipher.js';
import type { MasterKeys } from '../secrets/master-key.js';
import { derivePayloadKeys, PAYLOAD_KEY_ENV, PREVIOUS_PAYLOAD_KEY_ENV, type PayloadKey, type PayloadKeys } from './payload-key.js';

/** Temporal's conventional encoding name for encrypted payloads (samples, Go and Java codecs use it too). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
/** Binds ciphertexts to this use: a secrets-store row is never accepted as a payload and vice versa. */
const AAD = Buffer.from('spacebot temporal payload v1');

/**
 * temporal.api.common.v1.Payload's wire format (metadata = 1, data = 2): the whole payload, metadata
 * included, is encrypted, so the encoding of the original (json/plain, binary/null, …) is not visible
 * either, and any other codec server that speaks this convention reads ours.
 */
const PAYLOAD_PROTO: protobuf.INamespace = {
  nested: {
    Payload: {
      fields: {
        metadata: { keyType: 'string', type: 'bytes', id: 1 } as protobuf.IMapField,
        data: { type: 'bytes', id: 2 },
      },
    },
  },
};
const PayloadMessage = protobuf.Root.fromJSON(PAYLOAD_PROTO).lookupType('Payload');

/** Raised for an encrypted payload this process cannot open; the message says which key it needs. */
export class PayloadKeyError extends Error {
  override name = 'PayloadKeyError';
}

/**
 * AES-256-GCM over each payload, under the payload key (HKDF of the master key, lib/temporal/payload-key.ts);
 * the key's id rides in the payload's metadata so a rotated-out key is still found for old histories.
 * Built from the master keys (every process holding them) or from payload keys alone (the tools
 * service, SPACEBOT_PAYLOAD_KEY): the same key either way, so both read each other's payloads.
 * `encrypt: false` decodes only: turning history encryption off must not strand runs started while
 * it was on, and plain payloads pass through decode untouched.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly current: PayloadKey;
  private readonly byId = new Map<string, Buffer>();
  /** Where a missing key is set, for the error: the master key's variables, or the payload key's. */
  private readonly keyVariables: string;

  constructor(
    keys: Pick<MasterKeys, 'current' | 'previous'> | PayloadKeys,
    private readonly options: { encrypt: boolean } = { encrypt: true },
  ) {
    const fromMaster = 'bytes' in keys.current;
    const payloadKeys = fromMaster ? derivePayloadKeys(keys as Pick<MasterKeys, 'current' | 'previous'>) : (keys as PayloadKeys);
    this.keyVariables = fromMaster ? 'SPACEBOT_MASTER_KEY or SPACEBOT_MASTER_KEY_PREVIOUS' : `${PAYLOAD_KEY_ENV} or ${PREVIOUS_PAYLOAD_KEY_ENV}`;
    this.current = payloadKeys.current;
    this.byId.set(this.current.id, this.current.key);
    if (payloadKeys.previous) this.byId.set(payloadKeys.previous.id, payloadKeys.previous.key);
  }

  get encrypting(): boolean {
    return this.options.encrypt;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    if (!this.options.encrypt) return payloads;
    return payloads.map((payload) => {
      // Already encrypted (e.g. a payload passed through from a decoded-then-re-encoded history): keep it.
      if (encodingOf(payload) === ENCRYPTED_ENCODING) return payload;
      const plain = PayloadMessage.encode(PayloadMessage.create({ metadata: payload.metadata ?? {}, data: payload.data ?? new Uint8Array() })).finish();
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(this.current.id) },
        data: seal(this.current.key, plain, AAD),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (encodingOf(payload) !== ENCRYPTED_ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? new Uint8Array()).toString('utf8');
      const key = this.byId.get(keyId);
      if (!key) {
        throw new PayloadKeyError(
          `payload is encrypted under master key ${keyId || '(none named)'}, which this process does not have (it has ${[...this.byId.keys()].join(', ')}); set ${this.keyVariables} to it`,
        );
      }
      let plain: Buffer;
      try {
        plain = open(key, payload.data ?? new Uint8Array(), AAD);
      } catch (err) {
        if (err instanceof DecryptionError) throw new PayloadKeyError(`payload under master key ${keyId} does not decrypt: it was altered`);
        throw err;
      }
      const decoded = PayloadMessage.decode(plain) as unknown as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
      return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
    });
  }
}

function encodingOf(payload: Payload): string | undefined {
  const raw = payload.metadata?.encoding;
  return raw ? Buffer.from(raw).toString('utf8') : undefined;
}
