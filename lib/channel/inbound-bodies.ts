import { sql, type ColumnType, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { refuseEncodingErrors } from '../text/database-encoding.js';
import { cleanText } from '../text/hygiene.js';
import type { InboundMessage } from '../../workflows/channel-contract.js';

/**
 * Message bodies stored at intake (migrations/015_inbound_bodies.sql). A message's text never travels
 * through Temporal: the intake writes it here, keyed by (channel workflow id, message id), before the
 * update that carries only the id; recordInbound reads it back at turn time. Workflow histories,
 * workflow tasks and continue-as-new inputs then stay small however large and many the messages are.
 */
export interface InboundBodiesTable {
  channel_id: string;
  message_id: string;
  text: string;
  /** 018_inbound_envelope: the message without its text (sender, isDirect, autonomy); NULL in older rows. */
  envelope: ColumnType<unknown, string | null | undefined, never>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

type Db = Kysely<Database>;
type BodiesDb = Kysely<Database & { inbound_bodies: InboundBodiesTable }>;
const table = (db: Db): BodiesDb => db.withTables<{ inbound_bodies: InboundBodiesTable }>();

/** Writes and reads bodies for the intake (ChannelClient.submit). */
export class InboundBodies {
  constructor(private readonly db: Db) {}

  /**
   * Stores a body. The first write for an id wins (a retried delivery carries the same message), so
   * a later submission under the same id cannot change what the conversation already holds. NUL and
   * unpaired surrogates are removed: the one rule of lib/text/hygiene.ts. The envelope (the message
   * without its text) is kept beside it, so a run that recovers the message answers it as it was sent.
   */
  async put(channelId: string, messageId: string, text: string, envelope?: Omit<InboundMessage, 'text'>): Promise<void> {
    await refuseEncodingErrors('the message', () =>
      table(this.db)
        .insertInto('inbound_bodies')
        .values({ channel_id: channelId, message_id: messageId, text: cleanText(text), envelope: envelope ? JSON.stringify(envelope) : null })
        .onConflict((oc) => oc.columns(['channel_id', 'message_id']).doNothing())
        .execute(),
    );
  }
}

/** Bodies of some messages of one channel, by message id (inside recordInbound's transaction). */
export async function readBodies(db: Db, channelId: string, messageIds: string[]): Promise<Map<string, string>> {
  if (!messageIds.length) return new Map();
  const rows = await table(db).selectFrom('inbound_bodies').select(['message_id', 'text']).where('channel_id', '=', channelId).where('message_id', 'in', messageIds).execute();
  return new Map(rows.map((r) => [r.message_id, r.text]));
}

/** A body nobody retried (refused for a full queue, then abandoned) goes after this long. */
const ABANDONED_AFTER = '7 days';

/**
 * Once in the transcript, a body is no longer needed here. The channel's abandoned bodies go too:
 * far older than any queue takes to drain, so none of them can still be waiting for its turn.
 */
export async function deleteBodies(db: Db, channelId: string, messageIds: string[]): Promise<void> {
  if (messageIds.length) await table(db).deleteFrom('inbound_bodies').where('channel_id', '=', channelId).where('message_id', 'in', messageIds).execute();
  await table(db).deleteFrom('inbound_bodies').where('channel_id', '=', channelId).where('created_at', '<', sql<Date>`now() - ${ABANDONED_AFTER}::interval`).execute();
}

/**
 * The texts of a channel's messages by id, for views of its history (the run timeline), which holds
 * only ids: from the transcript, else (not yet answered) from the intake's copy.
 */
export async function messageTexts(db: Db, channelId: string, messageIds: string[]): Promise<Map<string, string>> {
  const ids = [...new Set(messageIds)].slice(0, 5000);
  if (!ids.length) return new Map();
  const rows = await db.selectFrom('messages').select(['platform_message_id', 'text']).where('channel_id', '=', channelId).where('direction', '=', 'inbound').where('platform_message_id', 'in', ids).execute();
  const texts = new Map<string, string>();
  for (const r of rows) if (r.platform_message_id) texts.set(r.platform_message_id, r.text);
  for (const [id, text] of await readBodies(db, channelId, ids.filter((id) => !texts.has(id)))) texts.set(id, text);
  return texts;
}
