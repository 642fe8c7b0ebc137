/**
 * `npm run memory:reembed [-- --all] [-- --agent <id>] [-- --batch <n>]`: embeds memories with the
 * configured embedder (`[memory]` in spacebot.toml), in batches, oldest id first.
 *
 * Resumable: without `--all` only memories whose embedding is NULL are embedded, so an interrupted
 * run simply continues where it stopped. After changing models (see docs/memory.md, "Changing the
 * embedding model"), the migration sets every embedding to NULL and this script fills them in again;
 * `--all` re-embeds everything regardless (it keeps a cursor by id, so it too can be resumed with
 * `--after <id>` from the last progress line).
 */
import { sql } from 'kysely';
import { loadConfig } from '../lib/config/load.js';
import { logger } from '../lib/logger.js';
import { embedChecked, vectorLiteral } from '../lib/memory/embedder.js';
import { selectEmbedder } from '../lib/memory/embedders/select.js';
import { openDatabase } from '../lib/runtime/database-runtime.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const all = process.argv.includes('--all');
const agent = option('agent');
const batch = Math.max(1, Math.min(Number(option('batch') ?? 64), 1024));
let after = option('after') ?? '00000000-0000-0000-0000-000000000000';

const config = loadConfig();
const { embedder, description, problem } = await selectEmbedder(config.memory.embedder, logger);
if (!embedder) {
  logger.error({ embedder: description }, `nothing to re-embed with: ${problem ?? '[memory] embedder = "none"'}; configure a working [memory] embedder first`);
  process.exit(1);
}
const database = await openDatabase(config, logger);
try {
  const db = database.db;
  let scope = db.selectFrom('memories').select(sql<string>`count(*)`.as('n'));
  if (agent) scope = scope.where('agent_id', '=', agent);
  if (!all) scope = scope.where('embedding', 'is', null);
  const total = Number((await scope.executeTakeFirstOrThrow()).n);
  logger.info({ total, embedder: description, onlyMissing: !all, agent }, 'memory:reembed starting');
  let done = 0;
  const started = Date.now();
  for (;;) {
    let q = db.selectFrom('memories').select(['id', 'content']).where('id', '>', after).orderBy('id').limit(batch);
    if (agent) q = q.where('agent_id', '=', agent);
    if (!all) q = q.where('embedding', 'is', null);
    const rows = await q.execute();
    if (!rows.length) break;
    const vectors = (await embedChecked(embedder, rows.map((r) => r.content))) ?? [];
    await db.transaction().execute(async (trx) => {
      for (const [i, row] of rows.entries()) {
        const v = vectors[i];
        if (v) await trx.updateTable('memories').set({ embedding: vectorLiteral(v) }).where('id', '=', row.id).execute();
      }
    });
    done += rows.length;
    after = rows[rows.length - 1]?.id ?? after;
    const perSecond = done / Math.max((Date.now() - started) / 1000, 0.001);
    logger.info({ done, total, after, perSecond: Math.round(perSecond * 10) / 10 }, `memory:reembed ${done}/${total}`);
  }
  logger.info({ done, seconds: Math.round((Date.now() - started) / 100) / 10 }, 'memory:reembed finished');
} finally {
  await database.close();
}
