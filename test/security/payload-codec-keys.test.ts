import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultPayloadConverter } from '@temporalio/common';
import { loadConfig } from '../../lib/config/load.js';
import { createLogger } from '../../lib/logger.js';
import { openDatabase, type DatabaseRuntime } from '../../lib/runtime/database-runtime.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { masterKey, type MasterKeys } from '../../lib/secrets/master-key.js';
import { SecretsError, SecretStore } from '../../lib/secrets/store.js';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadKeyError } from '../../lib/temporal/payload-codec.js';
import { derivePayloadKeys, formatPayloadKey, parsePayloadKey, payloadKeysFromEnv, PayloadKeyFormatError } from '../../lib/temporal/payload-key.js';

/**
 * The payload key (`spacebot keys payload-key`, SPACEBOT_PAYLOAD_KEY): what the tools service holds
 * instead of the master key. It must open history payloads exactly like the master key does, and
 * nothing else: not a secrets-store row, not the master key.
 */
const converter = new DefaultPayloadConverter();
const keysOf = (current: Buffer, previous?: Buffer): MasterKeys => ({ current: masterKey(current), ...(previous ? { previous: masterKey(previous) } : {}), source: 'test' });
/** What the tools service's environment holds: the printed form, read back. */
const exported = (keys: MasterKeys) => {
  const payload = derivePayloadKeys(keys);
  return payloadKeysFromEnv({
    SPACEBOT_PAYLOAD_KEY: formatPayloadKey(payload.current),
    ...(payload.previous ? { SPACEBOT_PAYLOAD_KEY_PREVIOUS: formatPayloadKey(payload.previous) } : {}),
  })!;
};

test('a codec from the exported payload key and one from the master key read each other’s payloads', async () => {
  const master = keysOf(randomBytes(32));
  const full = new AesGcmPayloadCodec(master);
  const tools = new AesGcmPayloadCodec(exported(master));
  const [fromMain] = await full.encode([converter.toPayload({ command: 'cat notes/diary.txt' })]);
  expect(converter.fromPayload((await tools.decode([fromMain!]))[0]!)).toEqual({ command: 'cat notes/diary.txt' });
  const [fromTools] = await tools.encode([converter.toPayload('dear diary')]);
  expect(Buffer.from(fromTools!.metadata![KEY_ID_METADATA]!).toString()).toBe(master.current.id);
  expect(Buffer.from(fromTools!.data!).toString()).not.toContain('diary');
  expect(converter.fromPayload((await full.decode([fromTools!]))[0]!)).toBe('dear diary');
});

test('the payload key is not the master key, and its printed form never contains it', () => {
  const bytes = randomBytes(32);
  const printed = formatPayloadKey(derivePayloadKeys(keysOf(bytes)).current);
  expect(printed).toMatch(/^[0-9a-f]{16}:[A-Za-z0-9+/]{43}=$/);
  expect(printed).not.toContain(bytes.toString('base64'));
  expect(printed).not.toContain(bytes.toString('hex'));
  expect(parsePayloadKey(printed, 'X').key.equals(bytes)).toBe(false);
});

test('during a rotation SPACEBOT_PAYLOAD_KEY_PREVIOUS opens the old histories; without it the error names the payload key variables', async () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const [old] = await new AesGcmPayloadCodec(keysOf(oldKey)).encode([converter.toPayload('old history')]);
  const rotated = new AesGcmPayloadCodec(exported(keysOf(newKey, oldKey)));
  expect(converter.fromPayload((await rotated.decode([old!]))[0]!)).toBe('old history');
  const stranger = new AesGcmPayloadCodec(exported(keysOf(newKey)));
  await expect(stranger.decode([old!])).rejects.toThrow(`which this process does not have (it has ${masterKey(newKey).id}); set SPACEBOT_PAYLOAD_KEY or SPACEBOT_PAYLOAD_KEY_PREVIOUS to it`);
});

test('a malformed payload key is one line naming the variable, without its value', () => {
  const master = randomBytes(32).toString('base64');
  // The classic mistake: the master key pasted where the payload key belongs.
  for (const [env, name] of [
    [{ SPACEBOT_PAYLOAD_KEY: master }, 'SPACEBOT_PAYLOAD_KEY'],
    [{ SPACEBOT_PAYLOAD_KEY: formatPayloadKey(derivePayloadKeys(keysOf(randomBytes(32))).current), SPACEBOT_PAYLOAD_KEY_PREVIOUS: master }, 'SPACEBOT_PAYLOAD_KEY_PREVIOUS'],
  ] as const) {
    expect(() => payloadKeysFromEnv(env)).toThrow(PayloadKeyFormatError);
    expect(() => payloadKeysFromEnv(env)).toThrow(new RegExp(`^${name}: expected "<16 hex digit key id>:<44 base64 characters>"`));
    expect(() => payloadKeysFromEnv(env)).not.toThrow(master);
  }
  expect(() => payloadKeysFromEnv({ SPACEBOT_PAYLOAD_KEY_PREVIOUS: 'x' })).toThrow('SPACEBOT_PAYLOAD_KEY_PREVIOUS is set but SPACEBOT_PAYLOAD_KEY is not');
  expect(payloadKeysFromEnv({ SPACEBOT_PAYLOAD_KEY: '' })).toBeUndefined();
});

describe('against a secrets store in a real database', () => {
  let database: DatabaseRuntime;
  let server: TestDatabase | undefined;
  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-payload-key-'));
    writeFileSync(path.join(dir, 'spacebot.toml'), '');
    server = await createTestDatabase();
    database = await openDatabase(loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: server.url } }), createLogger('payload-key-test', 'silent'));
  }, 120_000);
  afterAll(async () => {
    await database?.close();
    await server?.drop();
  });

  test('a payload key cannot open a secrets-store row, neither as a payload nor used as a master key', async () => {
    const master = keysOf(randomBytes(32));
    const VALUE = 'sk-ant-stored-value-never-for-the-tools-service';
    await new SecretStore(database.db, master).set('LLM_KEY', VALUE);
    const row = await database.db.selectFrom('secrets').select(['key_id', 'ciphertext']).where('name', '=', 'LLM_KEY').executeTakeFirstOrThrow();
    expect(row.key_id).toBe(master.current.id);
    const payloadKeys = exported(master);

    // The row's ciphertext handed to the tools service's codec (same key id, so the key is found): refused.
    const disguised = { metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(row.key_id) }, data: row.ciphertext };
    await expect(new AesGcmPayloadCodec(payloadKeys).decode([disguised])).rejects.toThrow(PayloadKeyError);

    // The payload key's bytes used as a master key: a different key, the store refuses.
    const stolen = keysOf(payloadKeys.current.key);
    const err = await new SecretStore(database.db, stolen).get('LLM_KEY').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(SecretsError);
    expect(err?.message).not.toContain(VALUE);
    // While the master key still opens it (the row is fine).
    expect(await new SecretStore(database.db, master).get('LLM_KEY')).toBe(VALUE);
  });
});

test('a payload recorded before payload keys existed decodes with the payload key alone (the derivation is unchanged)', async () => {
  // Encrypted by the codec as it was before this change, under a master key of 32 bytes of 7.
  const recorded = {
    metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from('eab7aaf225778ad9') },
    data: Buffer.from('xaMYlovVPiMHIFeTvz9acY2mPVSYAcq/tXJKFd2UFAkaWPTpjlJN7yy4Y9DgRAnE8oOsxV2aEjIiWNhycv5vynMcwBb6tCTj2kKyQxbtxb1YLMupJPS2GQRqxwQE4y4tCcZ1igw=', 'base64'),
  };
  const tools = new AesGcmPayloadCodec(exported(keysOf(Buffer.alloc(32, 7))));
  expect(converter.fromPayload((await tools.decode([recorded]))[0]!)).toEqual({ command: 'echo recorded-before-payload-keys' });
});
