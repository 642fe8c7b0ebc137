import { sql, type ColumnType, type Kysely } from 'kysely';
import type { CortexActivities, CortexStepInput, RenderContextResult } from './contract.js';
import type { ActivityDeps } from './deps.js';
import type { Database } from '../lib/db/schema.js';
import { refreshAllMemoryContexts } from '../lib/memory/context.js';
import { decayImportance, linkRelated, mergeNearDuplicates, pruneMemories } from '../lib/memory/maintenance.js';

/**
 * The cortex's maintenance steps (docs/memory.md), one activity each so the Temporal UI shows every
 * pass step by step with its counts. None calls a model: the cortex never spends the agent's budget.
 *
 * Retries: every step records its result under (agent, pass, step). A retried step whose first
 * attempt committed answers with that result instead of running again. Decay writes its row in the
 * same transaction as the decay itself, since decaying twice would be wrong; the other steps are
 * idempotent in effect (a second run finds nothing left to prune, merge or link) and record their
 * result afterwards so that the pass's counts stay those of the first run.
 */

/** migrations/007_cortex.sql, typed here (withTables) so lib/db/schema.ts stays as it is. */
interface CortexStepsTable {
  agent_id: string;
  pass_key: string;
  step: string;
  result: ColumnType<unknown, string, string>;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

type Db = Kysely<Database>;
const steps = (db: Db) => db.withTables<{ cortex_steps: CortexStepsTable }>();

/**
 * Decay is by elapsed time, not by pass: the fraction of the distance to the floor removed per day
 * (lib/memory/maintenance.ts's default per pass, whose documentation assumes daily passes). A pass
 * decays by `1 - (1 - rate)^days` for the days since the agent's previous decay, so hourly passes,
 * daily passes, a manual run in between or a long pause all give the same importance for the same
 * time; a gap longer than a week counts as a week.
 */
export const DAILY_DECAY_RATE = 0.02;
const MAX_DECAY_DAYS = 7;

interface DecayResult {
  decayed: number;
  /** Days of decay this pass applied. */
  days: number;
  /** The pass's time, from which the next pass counts. */
  at: string;
}

async function daysSinceLastDecay(db: Db, input: CortexStepInput): Promise<number> {
  const row = await steps(db)
    .selectFrom('cortex_steps')
    .select(sql<string>`result->>'at'`.as('at'))
    .where('agent_id', '=', input.agentId)
    .where('step', '=', 'decay')
    .where('pass_key', '<>', input.passKey)
    .orderBy(sql`result->>'at'`, 'desc')
    .limit(1)
    .executeTakeFirst();
  const now = Date.parse(input.now);
  const since = row?.at ? Date.parse(row.at) : now - (input.intervalMinutes ?? 60) * 60_000;
  return Math.min(Math.max((now - since) / 86_400_000, 0), MAX_DECAY_DAYS);
}

/** Step results older than this are deleted (by the render step, the last of a pass). */
// Longer than MAX_DECAY_DAYS, so the last decay's time is always found.
const KEEP_STEP_RESULTS_DAYS = 14;

async function recorded<T>(db: Db, input: CortexStepInput, step: string): Promise<T | undefined> {
  const row = await steps(db)
    .selectFrom('cortex_steps')
    .select('result')
    .where('agent_id', '=', input.agentId)
    .where('pass_key', '=', input.passKey)
    .where('step', '=', step)
    .executeTakeFirst();
  return row ? (row.result as T) : undefined;
}

async function record(db: Db, input: CortexStepInput, step: string, result: unknown): Promise<boolean> {
  const inserted = await steps(db)
    .insertInto('cortex_steps')
    .values({ agent_id: input.agentId, pass_key: input.passKey, step, result: JSON.stringify(result) })
    .onConflict((oc) => oc.columns(['agent_id', 'pass_key', 'step']).doNothing())
    .returning('step')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Runs an idempotent-in-effect step once per pass as far as its reported counts go. */
async function once<T extends object>(deps: ActivityDeps, input: CortexStepInput, step: string, run: () => Promise<T>): Promise<T> {
  const previous = await recorded<T>(deps.db, input, step);
  if (previous !== undefined) return previous;
  const result = await run();
  if (!(await record(deps.db, input, step, result))) return (await recorded<T>(deps.db, input, step)) ?? result;
  deps.logger.info({ agent: input.agentId, pass: input.passKey, step, counts: result as object }, 'cortex step done');
  return result;
}

export function makeCortexActivities(deps: ActivityDeps): CortexActivities {
  return {
    async decayMemories(input) {
      const previous = await recorded<DecayResult>(deps.db, input, 'decay');
      if (previous) return previous;
      const now = new Date(input.now);
      const result = await deps.db.transaction().execute(async (trx) => {
        // The row first: a concurrent attempt of the same pass waits on it and then does nothing.
        if (!(await record(trx, input, 'decay', { decayed: 0, days: 0, at: input.now }))) return undefined;
        const days = await daysSinceLastDecay(trx, input);
        const counts = days > 0 ? await decayImportance(trx, input.agentId, { now, rate: 1 - (1 - DAILY_DECAY_RATE) ** days }) : { decayed: 0 };
        const out: DecayResult = { ...counts, days: Math.round(days * 1e6) / 1e6, at: input.now };
        await steps(trx).updateTable('cortex_steps').set({ result: JSON.stringify(out) }).where('agent_id', '=', input.agentId).where('pass_key', '=', input.passKey).where('step', '=', 'decay').execute();
        return out;
      });
      if (!result) return (await recorded<DecayResult>(deps.db, input, 'decay')) ?? { decayed: 0, days: 0, at: input.now };
      deps.logger.info({ agent: input.agentId, pass: input.passKey, step: 'decay', counts: result }, 'cortex step done');
      return result;
    },
    pruneMemories: (input) => once(deps, input, 'prune', () => pruneMemories(deps.db, input.agentId, { now: new Date(input.now) })),
    mergeMemories: (input) => once(deps, input, 'merge', () => mergeNearDuplicates(deps.db, input.agentId)),
    linkMemories: (input) => once(deps, input, 'link', () => linkRelated(deps.db, input.agentId)),
    renderMemoryContext: (input) =>
      once(deps, input, 'context', async (): Promise<RenderContextResult> => {
        const all = await refreshAllMemoryContexts(deps.db, input.agentId);
        const before = new Date(new Date(input.now).getTime() - KEEP_STEP_RESULTS_DAYS * 86_400_000);
        await steps(deps.db).deleteFrom('cortex_steps').where('agent_id', '=', input.agentId).where('created_at', '<', before).execute();
        return {
          contexts: all.contexts,
          changed: all.changed,
          memories: all.agentWide.memoryCount,
          words: all.agentWide.wordCount,
          version: all.agentWide.memoryVersion,
        };
      }),
  };
}
