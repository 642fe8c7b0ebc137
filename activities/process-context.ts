import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { ForkContextInput, ProcessRegistration, RecordContextInput } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { putEntry } from '../lib/channel/context-store.js';
import { forkSummary } from '../lib/compaction/fork.js';
import type { Database } from '../lib/db/schema.js';
import { leakGuardOf } from '../lib/security/leak-guard.js';

/** (agent, platform, conversation) is unique per channel: a child's row names itself under its channel's conversation. */
function childConversationId(conversationId: string, id: string): string {
  const suffix = id.slice(id.lastIndexOf('/', id.lastIndexOf('/') - 1));
  return `${conversationId}${suffix}`;
}

/** The child's `channels` row (its context entries reference it); a no-op when it exists. */
async function registerProcess(db: Kysely<Database>, id: string, r: ProcessRegistration): Promise<void> {
  await db
    .insertInto('channels')
    .values({ id, agent_id: r.agentId, platform: r.platform, conversation_id: childConversationId(r.conversationId, id), process: r.process, parent_id: r.parentId })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/**
 * Context writes the workflows make themselves: a branch's question, a worker's task and follow-ups,
 * finished work reported to the channel, results of tools the workflow carries out (branch,
 * spawn_worker, set_status...) and nudges. Idempotent: every entry has its position.
 */
export function makeRecordContext(deps: ActivityDeps) {
  return async function recordContext(input: RecordContextInput): Promise<void> {
    await deps.db.transaction().execute(async (tx) => {
      if (input.register) await registerProcess(tx, input.channelId, input.register);
      for (const e of input.entries) {
        const at = { channelId: input.channelId, turnSeq: e.turnSeq, step: e.step, idx: e.idx };
        if (e.role === 'tool') {
          // A workspace tool's result comes from the tools service, whose guard knows no configured
          // secret (it holds none): redacted again here, before the model can read it.
          const content = leakGuardOf(deps).redact(e.text).text;
          await putEntry(tx, at, 'tool', { type: 'tool_result', toolCallId: e.toolCallId ?? '', content, ...(e.isError ? { isError: true } : {}) });
        } else {
          await putEntry(tx, at, 'user', { role: 'user', parts: [{ type: 'text', text: e.text }] });
        }
      }
    });
  };
}

/**
 * A branch starts with a copy of its channel's context at fork time: the channel's last
 * `historyTurns` turns up to `throughTurn`, at the same positions under the branch's own key, so the
 * branch reads it exactly as the channel would have and the channel's context is never touched.
 */
export function makeForkContext(deps: ActivityDeps) {
  return async function forkContext(input: ForkContextInput): Promise<{ copied: number }> {
    await registerProcess(deps.db, input.toId, input.register);
    const result = await sql<{ n: number }>`
      WITH copied AS (
        INSERT INTO context_entries (channel_id, turn_seq, step, idx, role, content)
        SELECT ${input.toId}, turn_seq, step, idx, role, content
          FROM context_entries
         WHERE channel_id = ${input.fromChannelId}
           AND turn_seq <= ${input.throughTurn}
           AND turn_seq > ${input.throughTurn - deps.config.historyTurns}
        ON CONFLICT (channel_id, turn_seq, step, idx) DO NOTHING
        RETURNING 1
      )
      SELECT count(*)::int AS n FROM copied`.execute(deps.db);
    // A compacted channel's older turns live in its summary: the branch gets that too.
    await forkSummary(deps.db, input.fromChannelId, input.toId, input.throughTurn);
    return { copied: result.rows[0]?.n ?? 0 };
  };
}
