import type { ColumnType, Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** The table of migrations/014_heartbeat_owner.sql, kept out of lib/db/schema.ts (typed here with withTables). */
export interface HeartbeatToolOwnersTable {
  schedule_id: string;
  agent_id: string;
  heartbeat_id: string;
  channel_id: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

type Db = Kysely<Database>;
const table = (db: Db) => db.withTables<{ heartbeat_tool_owners: HeartbeatToolOwnersTable }>();

export interface ToolOwner {
  scheduleId: string;
  heartbeatId: string;
  channelId: string;
}

/** Heartbeats the `cron` tool made in this conversation (rows may outlive a schedule deleted elsewhere). */
export async function ownedBy(db: Db, agentId: string, channelId: string): Promise<ToolOwner[]> {
  const rows = await table(db)
    .selectFrom('heartbeat_tool_owners')
    .select(['schedule_id', 'heartbeat_id', 'channel_id'])
    .where('agent_id', '=', agentId)
    .where('channel_id', '=', channelId)
    .orderBy('heartbeat_id')
    .execute();
  return rows.map((r) => ({ scheduleId: r.schedule_id, heartbeatId: r.heartbeat_id, channelId: r.channel_id }));
}

/** Heartbeats the `cron` tool made for this agent, in every conversation (the per-agent cap). */
export async function countByAgent(db: Db, agentId: string): Promise<number> {
  const row = await table(db)
    .selectFrom('heartbeat_tool_owners')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('agent_id', '=', agentId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function ownerOf(db: Db, scheduleId: string): Promise<ToolOwner | undefined> {
  const row = await table(db).selectFrom('heartbeat_tool_owners').select(['schedule_id', 'heartbeat_id', 'channel_id']).where('schedule_id', '=', scheduleId).executeTakeFirst();
  return row && { scheduleId: row.schedule_id, heartbeatId: row.heartbeat_id, channelId: row.channel_id };
}

/** Claims a schedule id for a conversation; false when another row holds it. */
export async function claim(db: Db, owner: ToolOwner & { agentId: string }): Promise<boolean> {
  const row = await table(db)
    .insertInto('heartbeat_tool_owners')
    .values({ schedule_id: owner.scheduleId, agent_id: owner.agentId, heartbeat_id: owner.heartbeatId, channel_id: owner.channelId })
    .onConflict((oc) => oc.column('schedule_id').doNothing())
    .returning('schedule_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function release(db: Db, scheduleId: string): Promise<void> {
  await table(db).deleteFrom('heartbeat_tool_owners').where('schedule_id', '=', scheduleId).execute();
}
