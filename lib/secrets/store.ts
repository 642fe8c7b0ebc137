import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { DecryptionError, deriveKey, open, seal } from './cipher.js';
import type { MasterKey, MasterKeys } from './master-key.js';
import { MASTER_KEY_ENV, PREVIOUS_MASTER_KEY_ENV } from './master-key.js';
import { secretNameSchema, secretValueSchema } from './names.js';

/** Refusals of the store: bad input (`invalid`) or rows this key cannot open (`key`). */
export class SecretsError extends Error {
  override name = 'SecretsError';
  constructor(
    readonly code: 'invalid' | 'key',
    message: string,
  ) {
    super(message);
  }
}

export interface SecretInfo {
  name: string;
  updatedAt: Date;
}

const PURPOSE = 'secrets store v1';

/**
 * Secrets encrypted at rest in Postgres: AES-256-GCM per value under a key derived from the master
 * key, the name as additional data, the master key's id on each row. Nothing that lists or returns
 * metadata ever decrypts; only `get` and `values` do, for the process's own use at start.
 */
export class SecretStore {
  private readonly current: { id: string; key: Buffer };
  private readonly previous?: { id: string; key: Buffer };
  private readonly listeners: ((name: string, value: string) => void)[] = [];

  constructor(
    private readonly db: Kysely<Database>,
    keys: MasterKeys,
  ) {
    this.current = derive(keys.current);
    if (keys.previous) this.previous = derive(keys.previous);
  }

  /** Called with every value set through this store (the leak guard learns new secrets this way). */
  onSet(listener: (name: string, value: string) => void): void {
    this.listeners.push(listener);
  }

  async set(name: string, value: string): Promise<SecretInfo & { created: boolean }> {
    checkName(name);
    const checked = secretValueSchema.safeParse(value);
    if (!checked.success) throw new SecretsError('invalid', `secret ${name}: ${checked.error.issues[0]?.message ?? 'invalid value'}`);
    const ciphertext = seal(this.current.key, Buffer.from(value, 'utf8'), aad(name));
    const row = await this.db
      .insertInto('secrets')
      .values({ name, key_id: this.current.id, ciphertext })
      .onConflict((oc) => oc.column('name').doUpdateSet({ key_id: this.current.id, ciphertext, updated_at: sql`now()` }))
      // xmax = 0 only for a freshly inserted row: tells create from replace in one round trip.
      .returning(['name', 'updated_at', sql<boolean>`(xmax = 0)`.as('created')])
      .executeTakeFirstOrThrow();
    for (const listener of this.listeners) listener(name, value);
    return { name: row.name, updatedAt: new Date(row.updated_at), created: row.created };
  }

  async list(): Promise<SecretInfo[]> {
    const rows = await this.db.selectFrom('secrets').select(['name', 'updated_at']).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, updatedAt: new Date(r.updated_at) }));
  }

  async delete(name: string): Promise<boolean> {
    checkName(name);
    const result = await this.db.deleteFrom('secrets').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async get(name: string): Promise<string | undefined> {
    checkName(name);
    const row = await this.db.selectFrom('secrets').select(['name', 'key_id', 'ciphertext']).where('name', '=', name).executeTakeFirst();
    return row ? this.decrypt(row) : undefined;
  }

  /** Every secret, decrypted: for resolving `secret:NAME` config values and teaching the leak guard at start. */
  async values(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('secrets').select(['name', 'key_id', 'ciphertext']).orderBy('name').execute();
    return new Map(rows.map((row) => [row.name, this.decrypt(row)]));
  }

  /**
   * Re-encrypts every row not under the current key (they must be under the previous one) in one
   * transaction: either all rows move to the new key or none do. Returns how many moved.
   */
  async rotate(): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('secrets')
        .select(['name', 'key_id', 'ciphertext'])
        .where('key_id', '!=', this.current.id)
        .forUpdate()
        .execute();
      for (const row of rows) {
        const value = this.decrypt(row);
        const ciphertext = seal(this.current.key, Buffer.from(value, 'utf8'), aad(row.name));
        await trx.updateTable('secrets').set({ key_id: this.current.id, ciphertext }).where('name', '=', row.name).execute();
      }
      return rows.length;
    });
  }

  private decrypt(row: { name: string; key_id: string; ciphertext: Buffer }): string {
    const key = row.key_id === this.current.id ? this.current : row.key_id === this.previous?.id ? this.previous : undefined;
    if (!key) {
      throw new SecretsError(
        'key',
        `secret ${row.name} is encrypted under master key ${row.key_id}, but ${MASTER_KEY_ENV} (or data/master-key) is key ${this.current.id}` +
          `${this.previous ? ` and ${PREVIOUS_MASTER_KEY_ENV} is key ${this.previous.id}` : ''}: start with the key it was stored under (docs/security.md#secrets-store)`,
      );
    }
    try {
      return open(key.key, row.ciphertext, aad(row.name)).toString('utf8');
    } catch (err) {
      if (err instanceof DecryptionError) throw new SecretsError('key', `secret ${row.name} does not decrypt under master key ${key.id}: the row was altered or copied from another name`);
      throw err;
    }
  }
}

function derive(key: MasterKey): { id: string; key: Buffer } {
  return { id: key.id, key: deriveKey(key.bytes, PURPOSE) };
}

function aad(name: string): Buffer {
  return Buffer.from(`spacebot secret ${name}`, 'utf8');
}

function checkName(name: string): void {
  const parsed = secretNameSchema.safeParse(name);
  if (!parsed.success) throw new SecretsError('invalid', `secret name "${name.slice(0, 80)}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
}
