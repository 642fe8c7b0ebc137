import type { Kysely } from 'kysely';
import type { AdapterState, AdapterStatus } from '../../adapters/inbound.js';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';

/** migrations/008_adapter_status.sql */
interface AdapterStatusTable {
  kind: string;
  instance: string;
  platform: string;
  state: AdapterState;
  since: Date | string;
  last_error: string | null;
  bot_user: string | null;
  updated_at: Date | string;
}

type StatusDb = Kysely<Database & { adapter_status: AdapterStatusTable }>;

export interface ReportedAdapterStatus {
  kind: string;
  instance: string;
  platform: string;
  /** `unknown`: configured, but no gateway has reported it (is the gateway running?). */
  state: AdapterState | 'unknown';
  since?: string;
  lastError?: string;
  botUser?: string;
  updatedAt?: string;
  /** The gateway has not refreshed this row for three status intervals: it has probably stopped. */
  stale: boolean;
}

function withStatusTable(db: Kysely<Database>): StatusDb {
  return db.withTables<{ adapter_status: AdapterStatusTable }>() as StatusDb;
}

/** The gateway's side: one row per adapter instance, upserted on every refresh. */
export async function writeAdapterStatuses(db: Kysely<Database>, rows: (AdapterStatus & { platform: string })[]): Promise<void> {
  if (rows.length === 0) return;
  const now = new Date();
  await withStatusTable(db)
    .insertInto('adapter_status')
    .values(
      rows.map((s) => ({
        kind: s.kind,
        instance: s.instance,
        platform: s.platform,
        state: s.state,
        since: s.since,
        last_error: s.lastError ?? null,
        bot_user: s.botUser ?? null,
        updated_at: now,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['kind', 'instance']).doUpdateSet((eb) => ({
        platform: eb.ref('excluded.platform'),
        state: eb.ref('excluded.state'),
        since: eb.ref('excluded.since'),
        last_error: eb.ref('excluded.last_error'),
        bot_user: eb.ref('excluded.bot_user'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}

/**
 * The API's side: every configured instance with its last reported status. Rows of instances no longer
 * configured are left out.
 */
export async function readAdapterStatuses(db: Kysely<Database>, config: Pick<SpacebotConfig, 'adapters' | 'gateway'>, now = new Date()): Promise<ReportedAdapterStatus[]> {
  if (config.adapters.length === 0) return [];
  const rows = await withStatusTable(db).selectFrom('adapter_status').selectAll().execute();
  const staleBefore = now.getTime() - 3 * config.gateway.statusIntervalMs;
  return config.adapters.map((adapter): ReportedAdapterStatus => {
    const row = rows.find((r) => r.kind === adapter.kind && r.instance === adapter.instance);
    if (!row) return { kind: adapter.kind, instance: adapter.instance, platform: adapter.platform, state: 'unknown', stale: false };
    const updatedAt = new Date(row.updated_at);
    return {
      kind: row.kind,
      instance: row.instance,
      platform: row.platform,
      state: row.state,
      since: new Date(row.since).toISOString(),
      ...(row.last_error ? { lastError: row.last_error } : {}),
      ...(row.bot_user ? { botUser: row.bot_user } : {}),
      updatedAt: updatedAt.toISOString(),
      stale: row.state !== 'stopped' && updatedAt.getTime() < staleBefore,
    };
  });
}

/** Whether adapter health degrades the service: a failed, reconnecting, unreported or stale adapter does. */
export function adapterHealthy(status: ReportedAdapterStatus): boolean {
  return !status.stale && (status.state === 'connected' || status.state === 'starting');
}
