import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { loadConfig } from '../../lib/config/load.js';
import { PROJECT_ROOT } from '../../lib/paths.js';
import { createLogger } from '../../lib/logger.js';
import { saveMemory } from '../../lib/memory/store.js';
import type { SpacebotConfig } from '../../lib/config/types.js';
import { openDatabase } from '../../lib/runtime/database-runtime.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/**
 * `npm run memory:reembed` end to end: memories saved without an embedder (NULL vectors) get vectors
 * from the configured local model (the committed tiny one), and a second run has nothing left to do.
 * The script runs in its own process, as an operator would run it, against the same database (the
 * embedded one, or with TEST_DATABASE_URL a database of this file's own on that server).
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-reembed-'));
const configFile = path.join(dir, 'spacebot.toml');
writeFileSync(configFile, `[memory]\nembedder = "local"\npath = "${path.join(PROJECT_ROOT, 'test/fixtures/tiny-embedder')}"\n`);
const env: Record<string, string> = { SPACEBOT_CONFIG: configFile, SPACEBOT_DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'info' };
let config: SpacebotConfig;
let server: TestDatabase | undefined;

beforeAll(async () => {
  server = await createTestDatabase();
  if (server.url) env.DATABASE_URL = server.url;
  config = loadConfig({ file: configFile, cwd: dir, env });
});
afterAll(async () => {
  await server?.drop();
});

async function counts(): Promise<{ missing: number; embedded: number }> {
  const database = await openDatabase(config, createLogger('test', 'silent'));
  try {
    const row = await sql<{ missing: number; embedded: number }>`
      SELECT count(*) FILTER (WHERE embedding IS NULL)::int AS missing, count(*) FILTER (WHERE embedding IS NOT NULL)::int AS embedded FROM memories`.execute(database.db);
    return row.rows[0] ?? { missing: -1, embedded: -1 };
  } finally {
    await database.close();
  }
}

async function reembed(): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts/memory-reembed.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 8 * 1024 * 1024,
  });
  return stdout;
}

test('memory:reembed fills in missing embeddings with the configured model, and resumes to nothing', async () => {
  const database = await openDatabase(config, createLogger('test', 'silent'));
  try {
    await database.db.insertInto('agents').values({ id: 'main', name: 'main' }).onConflict((oc) => oc.column('id').doNothing()).execute();
    for (const content of ['the user likes green tea', 'the deploy runs on fridays', 'alice is the team lead']) {
      await saveMemory(database.db, null, 'main', { content, type: 'fact' });
    }
  } finally {
    await database.close();
  }
  expect(await counts()).toEqual({ missing: 3, embedded: 0 });

  const first = await reembed();
  expect(first).toContain('memory:reembed 3/3');
  expect(await counts()).toEqual({ missing: 0, embedded: 3 });

  const second = await reembed();
  expect(second).toContain('"total":0');
  expect(await counts()).toEqual({ missing: 0, embedded: 3 });
}, 180_000);
