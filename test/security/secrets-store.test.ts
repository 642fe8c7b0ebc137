import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lib/config/load.js';
import type { SpacebotConfig } from '../../lib/config/types.js';
import { createLogger } from '../../lib/logger.js';
import { openDatabase, type DatabaseRuntime } from '../../lib/runtime/database-runtime.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { resolveSecretReferences } from '../../lib/secrets/config-refs.js';
import { loadMasterKeys, masterKey, MasterKeyError, type MasterKeys } from '../../lib/secrets/master-key.js';
import { openSecrets } from '../../lib/secrets/start.js';
import { SecretsError, SecretStore } from '../../lib/secrets/store.js';
import { leakGuardOf } from '../../lib/security/leak-guard.js';

/**
 * The secrets store against a real database (PGlite, or TEST_DATABASE_URL): what lands in the row,
 * what a wrong key says, a rotation, and `secret:NAME` config values.
 */
const logger = createLogger('secrets-test', 'silent');
const keysOf = (current: Buffer, previous?: Buffer): MasterKeys => ({
  current: masterKey(current),
  ...(previous ? { previous: masterKey(previous) } : {}),
  source: 'test',
});

let dir: string;
let config: SpacebotConfig;
let database: DatabaseRuntime;
let server: TestDatabase | undefined;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-secrets-'));
  writeFileSync(path.join(dir, 'spacebot.toml'), '[providers.anthropic]\napi_key = "secret:ANTHROPIC_KEY"\n\n[[agents]]\nid = "main"\nname = "secret:NOT_A_CREDENTIAL"\n');
  server = await createTestDatabase();
  config = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: server.url } });
  database = await openDatabase(config, logger);
}, 120_000);
afterAll(async () => {
  await database?.close();
  await server?.drop();
});
beforeEach(async () => {
  await database.db.deleteFrom('secrets').execute();
});

describe('master key', () => {
  test('is created 0600 in the data directory on first start and read back the same', () => {
    const dataDir = path.join(dir, 'fresh');
    const first = loadMasterKeys(dataDir, {});
    expect(statSync(path.join(dataDir, 'master-key')).mode & 0o777).toBe(0o600);
    expect(loadMasterKeys(dataDir, {}).current.id).toBe(first.current.id);
  });

  test('a key file others can read is refused with one line saying how to fix it', () => {
    const dataDir = path.join(dir, 'loose');
    loadMasterKeys(dataDir, {});
    chmodSync(path.join(dataDir, 'master-key'), 0o644);
    expect(() => loadMasterKeys(dataDir, {})).toThrow(MasterKeyError);
    expect(() => loadMasterKeys(dataDir, {})).toThrow(/master-key is readable by other users \(mode 0644\): run chmod 600 /);
  });

  test('SPACEBOT_MASTER_KEY takes hex or base64; anything else is one line naming the variable', () => {
    const bytes = randomBytes(32);
    const fromHex = loadMasterKeys(dir, { SPACEBOT_MASTER_KEY: bytes.toString('hex') });
    const fromBase64 = loadMasterKeys(dir, { SPACEBOT_MASTER_KEY: bytes.toString('base64') });
    expect(fromHex.current.bytes.equals(bytes)).toBe(true);
    expect(fromBase64.current.id).toBe(fromHex.current.id);
    for (const bad of ['hunter2', bytes.toString('hex').slice(2), randomBytes(16).toString('base64')]) {
      expect(() => loadMasterKeys(dir, { SPACEBOT_MASTER_KEY: bad })).toThrow(/^SPACEBOT_MASTER_KEY: expected a 32-byte key as 64 hex digits or 44 base64 characters/);
    }
    expect(() => loadMasterKeys(dir, { SPACEBOT_MASTER_KEY: bytes.toString('hex'), SPACEBOT_MASTER_KEY_PREVIOUS: 'short' })).toThrow(/^SPACEBOT_MASTER_KEY_PREVIOUS: /);
  });
});

describe('store', () => {
  test('the row holds the key id and a ciphertext, never the value; list shows names and times only', async () => {
    const keys = keysOf(randomBytes(32));
    const store = new SecretStore(database.db, keys);
    const value = 'sk-ant-very-secret-value-0123456789';
    expect(await store.set('ANTHROPIC_KEY', value)).toMatchObject({ name: 'ANTHROPIC_KEY', created: true });
    expect(await store.set('ANTHROPIC_KEY', value)).toMatchObject({ created: false });

    const row = await database.db.selectFrom('secrets').selectAll().where('name', '=', 'ANTHROPIC_KEY').executeTakeFirstOrThrow();
    expect(row.key_id).toBe(keys.current.id);
    const stored = Buffer.from(row.ciphertext);
    expect(stored.includes(Buffer.from(value))).toBe(false);
    expect(stored.includes(Buffer.from('very-secret'))).toBe(false);
    expect(JSON.stringify(row)).not.toContain('very-secret');
    // Same value, fresh nonce: two writes never give the same bytes.
    await store.set('OTHER_KEY', value);
    const other = await database.db.selectFrom('secrets').select('ciphertext').where('name', '=', 'OTHER_KEY').executeTakeFirstOrThrow();
    expect(Buffer.from(other.ciphertext).equals(stored)).toBe(false);

    expect(await store.get('ANTHROPIC_KEY')).toBe(value);
    const listed = await store.list();
    expect(listed.map((s) => Object.keys(s).sort())).toEqual([['name', 'updatedAt'], ['name', 'updatedAt']]);
    expect(JSON.stringify(listed)).not.toContain('very-secret');
    expect(await store.delete('OTHER_KEY')).toBe(true);
    expect(await store.delete('OTHER_KEY')).toBe(false);
  });

  test('names are validated, and empty values refused, each with the problem named', async () => {
    const store = new SecretStore(database.db, keysOf(randomBytes(32)));
    for (const bad of ['lower', '1ABC', 'A-B', `A${'B'.repeat(64)}`, "X'; DROP TABLE secrets; --"]) {
      await expect(store.set(bad, 'value-123456')).rejects.toThrow(/secret name .*: a secret name is an upper-case letter/);
    }
    await expect(store.set('EMPTY', '')).rejects.toThrow('secret EMPTY: the value is empty');
  });

  test('a wrong master key is a clear error naming both keys, never garbage', async () => {
    const right = keysOf(randomBytes(32));
    await new SecretStore(database.db, right).set('DISCORD_TOKEN', 'discord-token-abcdefgh');
    const wrong = keysOf(randomBytes(32));
    const store = new SecretStore(database.db, wrong);
    await expect(store.values()).rejects.toThrow(SecretsError);
    await expect(store.get('DISCORD_TOKEN')).rejects.toThrow(
      `secret DISCORD_TOKEN is encrypted under master key ${right.current.id}, but SPACEBOT_MASTER_KEY (or data/master-key) is key ${wrong.current.id}`,
    );
  });

  test('a row copied under another name does not decrypt (the name is authenticated)', async () => {
    const store = new SecretStore(database.db, keysOf(randomBytes(32)));
    await store.set('REAL', 'real-value-123456789');
    const row = await database.db.selectFrom('secrets').selectAll().where('name', '=', 'REAL').executeTakeFirstOrThrow();
    await database.db.insertInto('secrets').values({ name: 'COPY', key_id: row.key_id, ciphertext: row.ciphertext }).execute();
    await expect(store.get('COPY')).rejects.toThrow('secret COPY does not decrypt under master key');
  });
});

describe('rotation', () => {
  test('starting with the new key and the previous one re-encrypts every row; the old key alone then fails', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = new SecretStore(database.db, keysOf(oldKey));
    await before.set('ONE', 'first-secret-value');
    await before.set('TWO', 'second-secret-value');

    // The documented procedure: SPACEBOT_MASTER_KEY = new, SPACEBOT_MASTER_KEY_PREVIOUS = old, start.
    const keys = loadMasterKeys(dir, { SPACEBOT_MASTER_KEY: newKey.toString('base64'), SPACEBOT_MASTER_KEY_PREVIOUS: oldKey.toString('hex') });
    await openSecrets({ ...config, providers: { ...config.providers, anthropic: {} } }, database.db, keys, logger);

    const rows = await database.db.selectFrom('secrets').select(['name', 'key_id']).orderBy('name').execute();
    expect(rows).toEqual([
      { name: 'ONE', key_id: masterKey(newKey).id },
      { name: 'TWO', key_id: masterKey(newKey).id },
    ]);
    expect(Object.fromEntries(await new SecretStore(database.db, keysOf(newKey)).values())).toEqual({ ONE: 'first-secret-value', TWO: 'second-secret-value' });
    await expect(new SecretStore(database.db, keysOf(oldKey)).values()).rejects.toThrow(/encrypted under master key/);
    // Nothing left to move the second time.
    expect(await new SecretStore(database.db, keysOf(newKey, oldKey)).rotate()).toBe(0);
  });
});

describe('secret:NAME in the config', () => {
  test('credential keys are resolved at start and every stored value is taught to the leak guard', async () => {
    const keys = keysOf(randomBytes(32));
    const store = new SecretStore(database.db, keys);
    await store.set('ANTHROPIC_KEY', 'sk-ant-resolved-from-the-store');
    await store.set('UNREFERENCED', 'a-secret-nobody-configured');
    const cfg = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data') } });
    expect(cfg.providers.anthropic.apiKey).toBe('secret:ANTHROPIC_KEY');

    const opened = await openSecrets(cfg, database.db, keys, logger);
    expect(cfg.providers.anthropic.apiKey).toBe('sk-ant-resolved-from-the-store');
    // Not a credential key: left as text, never swapped for a secret a model could see.
    expect(cfg.agents[0]?.name).toBe('secret:NOT_A_CREDENTIAL');
    const guard = leakGuardOf({ config: cfg });
    expect(guard.redact('key a-secret-nobody-configured here').text).not.toContain('a-secret-nobody-configured');
    // Values set later (PUT /v1/secrets) are learnt too.
    await opened.set('LATER', 'set-after-start-0987654321');
    expect(guard.redact('see set-after-start-0987654321').text).not.toContain('set-after-start');
  });

  test('a missing secret stops start with one line naming the config key and the secret', () => {
    const cfg = loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data') } });
    expect(() => resolveSecretReferences(cfg, new Map())).toThrow(
      `${path.join(dir, 'spacebot.toml')}: "providers.anthropic.api_key": secret ANTHROPIC_KEY is not in the secrets store (add it: spacebot secrets set ANTHROPIC_KEY)`,
    );
  });
});
