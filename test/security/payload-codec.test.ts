import { randomBytes } from 'node:crypto';
import { DefaultPayloadConverter, type Payload } from '@temporalio/common';
import { masterKey } from '../../lib/secrets/master-key.js';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadKeyError } from '../../lib/temporal/payload-codec.js';

/** The history codec on its own: what an encrypted payload looks like and what decode accepts. */
const converter = new DefaultPayloadConverter();
const text = (p: Payload) => Buffer.from(p.data ?? new Uint8Array()).toString();
const meta = (p: Payload, key: string) => Buffer.from(p.metadata?.[key] ?? new Uint8Array()).toString();
const keys = (current = randomBytes(32), previous?: Buffer) => ({ current: masterKey(current), ...(previous ? { previous: masterKey(previous) } : {}) });

test('encode hides data and encoding; decode gives back the exact payload', async () => {
  const k = keys();
  const codec = new AesGcmPayloadCodec(k);
  const originals = [converter.toPayload({ text: 'the user said: my PIN is 4711' }), converter.toPayload(undefined), converter.toPayload(new Uint8Array([1, 2, 3]))];
  const encoded = await codec.encode(originals);
  for (const p of encoded) {
    expect(meta(p, 'encoding')).toBe(ENCRYPTED_ENCODING);
    expect(meta(p, KEY_ID_METADATA)).toBe(k.current.id);
    expect(Object.keys(p.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
  }
  expect(text(encoded[0]!)).not.toContain('4711');
  expect(text(encoded[0]!)).not.toContain('json/plain');
  const decoded = await codec.decode(encoded);
  expect(decoded.map((p) => converter.fromPayload(p))).toEqual([{ text: 'the user said: my PIN is 4711' }, undefined, new Uint8Array([1, 2, 3])]);
});

test('decode passes plain payloads through; encode leaves encrypted ones alone', async () => {
  const codec = new AesGcmPayloadCodec(keys());
  const plain = converter.toPayload('recorded before encryption was on');
  expect(await codec.decode([plain])).toEqual([plain]);
  const [once] = await codec.encode([plain]);
  const [twice] = await codec.encode([once!]);
  expect(twice).toBe(once);
});

test('decode-only mode (encrypt_history off) still opens payloads recorded while it was on', async () => {
  const k = keys();
  const [encrypted] = await new AesGcmPayloadCodec(k).encode([converter.toPayload('hello')]);
  const off = new AesGcmPayloadCodec(k, { encrypt: false });
  const plain = converter.toPayload('new');
  expect(await off.encode([plain])).toEqual([plain]);
  expect(converter.fromPayload((await off.decode([encrypted!]))[0]!)).toBe('hello');
});

test('after a rotation the previous key still opens old payloads; an unknown key is a clear error', async () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const [old] = await new AesGcmPayloadCodec(keys(oldKey)).encode([converter.toPayload('old history')]);
  const rotated = new AesGcmPayloadCodec(keys(newKey, oldKey));
  expect(converter.fromPayload((await rotated.decode([old!]))[0]!)).toBe('old history');
  expect(meta((await rotated.encode([converter.toPayload('new')]))[0]!, KEY_ID_METADATA)).toBe(masterKey(newKey).id);
  const stranger = new AesGcmPayloadCodec(keys(newKey));
  await expect(stranger.decode([old!])).rejects.toThrow(PayloadKeyError);
  await expect(stranger.decode([old!])).rejects.toThrow(`payload is encrypted under master key ${masterKey(oldKey).id}, which this process does not have`);
});

test('an altered payload, or one claiming another key id, does not decode', async () => {
  const k = keys();
  const codec = new AesGcmPayloadCodec(k);
  const [p] = await codec.encode([converter.toPayload('integrity')]);
  const data = Buffer.from(p!.data!);
  data[data.length - 20] = (data[data.length - 20] ?? 0) ^ 1;
  await expect(codec.decode([{ ...p!, data }])).rejects.toThrow('does not decrypt: it was altered');
  await expect(codec.decode([{ ...p!, data: new Uint8Array(3) }])).rejects.toThrow(PayloadKeyError);
});
