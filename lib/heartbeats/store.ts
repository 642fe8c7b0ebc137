import { sql, type ColumnType, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** The table of migrations/003_heartbeats.sql, kept out of lib/db/schema.ts (typed here with withTables). */
export interface HeartbeatFailuresTable {
  schedule_id: string;
  agent_id: string;
  heartbeat_id: string;
  consecutive_failures: number;
  last_run_id: string | null;
  last_error: string | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

type Db = Kysely<Database>;
const table = (db: Db) => db.withTables<{ heartbeat_failures: HeartbeatFailuresTable }>();

export interface FailureKey {
  scheduleId: string;
  agentId: string;
  heartbeatId: string;
}

/** Counts one failed run (once per run id) and returns the new count. */
export async function countFailure(db: Db, key: FailureKey, runId: string, error: string): Promise<number> {
  const row = await table(db)
    .insertInto('heartbeat_failures')
    .values({ schedule_id: key.scheduleId, agent_id: key.agentId, heartbeat_id: key.heartbeatId, consecutive_failures: 1, last_run_id: runId, last_error: error })
    .onConflict((oc) =>
      oc.column('schedule_id').doUpdateSet({
        consecutive_failures: sql<number>`CASE WHEN heartbeat_failures.last_run_id = ${runId} THEN heartbeat_failures.consecutive_failures ELSE heartbeat_failures.consecutive_failures + 1 END`,
        last_run_id: runId,
        last_error: error,
        updated_at: sql<Date>`now()`,
      }),
    )
    .returning('consecutive_failures')
    .executeTakeFirstOrThrow();
  return row.consecutive_failures;
}

export async function resetFailures(db: Db, scheduleId: string): Promise<void> {
  await table(db).deleteFrom('heartbeat_failures').where('schedule_id', '=', scheduleId).execute();
}

export async function failureCounts(db: Db, scheduleIds: string[]): Promise<Map<string, { count: number; lastError: string | null }>> {
  if (!scheduleIds.length) return new Map();
  const rows = await table(db).selectFrom('heartbeat_failures').selectAll().where('schedule_id', 'in', scheduleIds).execute();
  return new Map(rows.map((r) => [r.schedule_id, { count: r.consecutive_failures, lastError: r.last_error }]));
}
