import { createHash } from 'node:crypto';
import { sql, type ColumnType, type Kysely, type Selectable, type SqlBool } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ApprovalStatus } from '../../workflows/approval-contract.js';

/** migrations/013_approvals.sql; declared here so the approvals code owns its table's type. */
export interface ApprovalsTable {
  id: string;
  agent_id: string;
  worker_id: string;
  channel_id: string;
  platform: string;
  conversation_id: string;
  tool: string;
  summary: string;
  /** The call's full input (migrations/017_approval_input.sql), written as JSON; null for older rows. */
  input: ColumnType<unknown, string | null | undefined, string | null>;
  status: ColumnType<ApprovalStatus, ApprovalStatus | undefined, ApprovalStatus>;
  notice_message_id: string | null;
  decided_by: string | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  decided_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export type ApprovalRow = Selectable<ApprovalsTable>;
type ApprovalsDb = Kysely<Database & { approvals: ApprovalsTable }>;

function withApprovals(db: Kysely<Database>): ApprovalsDb {
  return db.withTables<{ approvals: ApprovalsTable }>();
}

/** Short, URL-safe and stable per worker call, so a retried activity finds the row it wrote. */
export function approvalIdFor(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 12).replace(/[-_]/g, 'x');
}

export async function insertApproval(
  db: Kysely<Database>,
  row: Omit<ApprovalRow, 'status' | 'notice_message_id' | 'decided_by' | 'created_at' | 'decided_at' | 'input'> & { input: string },
): Promise<ApprovalRow> {
  const a = withApprovals(db);
  await a.insertInto('approvals').values(row).onConflict((oc) => oc.column('id').doNothing()).execute();
  return a.selectFrom('approvals').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
}

export async function setNoticeMessage(db: Kysely<Database>, id: string, platformMessageId: string): Promise<void> {
  await withApprovals(db).updateTable('approvals').set({ notice_message_id: platformMessageId }).where('id', '=', id).execute();
}

export function getApproval(db: Kysely<Database>, id: string): Promise<ApprovalRow | undefined> {
  return withApprovals(db).selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Pending ones first, then the most recent decisions. */
export function listApprovals(db: Kysely<Database>, agentId: string, opts: { status?: ApprovalStatus; limit: number }): Promise<ApprovalRow[]> {
  let q = withApprovals(db).selectFrom('approvals').selectAll().where('agent_id', '=', agentId);
  if (opts.status) q = q.where('status', '=', opts.status);
  return q.orderBy('created_at', 'desc').limit(opts.limit).execute();
}

/** The pending approval whose notice is this platform message, if any (a reaction's target). */
export function findByNotice(db: Kysely<Database>, platform: string, conversationId: string, platformMessageId: string): Promise<ApprovalRow | undefined> {
  return withApprovals(db)
    .selectFrom('approvals')
    .selectAll()
    .where('platform', '=', platform)
    .where((eb) =>
      eb.or([
        eb('notice_message_id', '=', platformMessageId),
        // The outbox records the notice's first part the moment it is posted, before the delivery
        // settles and the approval learns its notice id: a reaction that quick still finds it.
        sql<SqlBool>`exists (select 1 from deliveries d where d.key = approvals.channel_id || ':0:0:approval:' || approvals.id and d.posted_parts ->> 0 = ${platformMessageId})`,
      ]),
    )
    // A Telegram reaction names the chat only: it covers the chat's forum topics (`<chat>.<topic>`).
    .where((eb) => eb.or([eb('conversation_id', '=', conversationId), eb('conversation_id', 'like', `${conversationId.replace(/[\\%_]/g, '\\$&')}.%`)]))
    .executeTakeFirst();
}

/**
 * Decides a pending approval, at most once: only a row still pending (and, for a person's decision,
 * not past its deadline) changes. Returns the row as it is afterwards, and whether this call changed it.
 */
export async function decide(
  db: Kysely<Database>,
  id: string,
  status: Exclude<ApprovalStatus, 'pending'>,
  by: string | null,
  opts: { beforeDeadline: boolean },
): Promise<{ changed: boolean; row: ApprovalRow | undefined }> {
  const a = withApprovals(db);
  let q = a.updateTable('approvals').set({ status, decided_by: by, decided_at: new Date() }).where('id', '=', id).where('status', '=', 'pending');
  if (opts.beforeDeadline) q = q.where('expires_at', '>', new Date());
  const updated = await q.returningAll().executeTakeFirst();
  return { changed: updated !== undefined, row: updated ?? (await getApproval(db, id)) };
}

/** The worker an approval was for is gone: nobody will act on it. */
export async function markExpired(db: Kysely<Database>, id: string): Promise<void> {
  await withApprovals(db).updateTable('approvals').set({ status: 'expired' }).where('id', '=', id).execute();
}

/**
 * A worker ended (cancelled, stopped at its time limit, failed) while approvals of its calls were
 * still pending: nobody can act on them any more, so they are expired at once rather than listed as
 * pending until their deadline. Returns the ids it changed.
 */
export async function expireForWorker(db: Kysely<Database>, workerId: string, by: string): Promise<string[]> {
  const rows = await withApprovals(db)
    .updateTable('approvals')
    .set({ status: 'expired', decided_by: by, decided_at: new Date() })
    .where('worker_id', '=', workerId)
    .where('status', '=', 'pending')
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}
