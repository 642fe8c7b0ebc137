import { sql, type Kysely } from 'kysely';
import type { SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import type { BudgetLimits } from './types.js';

/**
 * Per-agent spending caps over UTC periods (the day and the calendar month), read from the ledger
 * (`llm_calls.cost_usd`). Every process that calls a model for an agent (channels here; heartbeats,
 * cortex, branches and workers as they land) must call `checkBudget` first and make no call when it
 * answers `allowed: false`; the channel does so in the callModel activity.
 */

export type BudgetPeriod = 'day' | 'month';

export interface PeriodStatus {
  period: BudgetPeriod;
  /** First day of the period, `YYYY-MM-DD` (UTC). */
  start: string;
  spentUsd: number;
  /** Undefined when this period has no cap. */
  capUsd?: number;
}

export interface BudgetStatus {
  agentId: string;
  limits: BudgetLimits;
  day: PeriodStatus;
  month: PeriodStatus;
  /** False once a cap is reached: make no LLM call for this agent. */
  allowed: boolean;
  /** The period whose cap is reached (the day's first), when not allowed. */
  exceeded?: PeriodStatus;
  /** Periods at or past `warnAt` of their cap. */
  warnings: PeriodStatus[];
  /** For `allowed: false`: the sentence to show the user. */
  message?: string;
}

/** The agent's caps: `[budgets.agents.<id>]` over `[budgets]`. */
export function budgetLimits(config: Pick<SpacebotConfig, 'budgets'>, agentId: string): BudgetLimits {
  const { agents, ...defaults } = config.budgets;
  return { ...defaults, ...agents[agentId] };
}

export function periodStart(period: BudgetPeriod, now: Date): Date {
  return period === 'day'
    ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()))
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Whether the agent may make another LLM call now, with what it has spent today and this month (UTC). */
export async function checkBudget(db: Kysely<Database>, config: Pick<SpacebotConfig, 'budgets'>, agentId: string, now = new Date()): Promise<BudgetStatus> {
  const limits = budgetLimits(config, agentId);
  const dayStart = periodStart('day', now);
  const monthStart = periodStart('month', now);
  const row = await db
    .selectFrom('llm_calls')
    .select([
      sql<string>`coalesce(sum(cost_usd) filter (where created_at >= ${dayStart}), 0)`.as('day'),
      sql<string>`coalesce(sum(cost_usd), 0)`.as('month'),
    ])
    .where('agent_id', '=', agentId)
    .where('created_at', '>=', monthStart)
    .executeTakeFirst();
  const day: PeriodStatus = { period: 'day', start: isoDay(dayStart), spentUsd: Number(row?.day ?? 0), capUsd: limits.dailyUsd };
  const month: PeriodStatus = { period: 'month', start: isoDay(monthStart), spentUsd: Number(row?.month ?? 0), capUsd: limits.monthlyUsd };
  const capped = [day, month].filter((p) => p.capUsd !== undefined);
  const exceeded = capped.find((p) => p.spentUsd >= (p.capUsd ?? Infinity));
  const warnings = capped.filter((p) => p.spentUsd >= limits.warnAt * (p.capUsd ?? Infinity));
  return { agentId, limits, day, month, allowed: !exceeded, exceeded, warnings, message: exceeded ? budgetStopMessage(exceeded) : undefined };
}

export function formatUsd(usd: number): string {
  return `$${usd !== 0 && Math.abs(usd) < 0.01 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

const LABEL: Record<BudgetPeriod, { name: string; when: string; resets: string; key: string }> = {
  day: { name: 'daily', when: 'today', resets: 'at midnight UTC', key: 'daily_usd' },
  month: { name: 'monthly', when: 'this month', resets: 'on the 1st of next month (UTC)', key: 'monthly_usd' },
};

/** What the user reads when the hard stop refuses a call. */
export function budgetStopMessage(p: PeriodStatus): string {
  const l = LABEL[p.period];
  return (
    `Sorry, I can't answer right now: I have reached my ${l.name} spending limit of ${formatUsd(p.capUsd ?? 0)} ` +
    `(${formatUsd(p.spentUsd)} spent ${l.when}). I'll be able to answer again once it resets ${l.resets}, ` +
    `or sooner if an operator raises budgets.${l.key}.`
  );
}

export function budgetWarningMessage(p: PeriodStatus): string {
  const l = LABEL[p.period];
  const cap = p.capUsd ?? 0;
  const percent = cap > 0 ? Math.floor((p.spentUsd / cap) * 100) : 100;
  return (
    `Heads-up: I have used ${formatUsd(p.spentUsd)} of my ${l.name} budget of ${formatUsd(cap)} (${percent}%). ` +
    `When it is used up I'll stop answering until it resets ${l.resets}.`
  );
}

export interface NoticePosition {
  channelId: string;
  turnSeq: number;
  step: number;
}

/**
 * After a call is in the ledger: the warning sentence(s) to announce in this conversation, for each
 * period past `warnAt` not yet announced. Announced periods are persisted (`budget_notices`), so a
 * warning comes once per agent and period; a retry of the very call that announced it gets it again
 * (the first attempt's result may have been lost), any other call does not.
 */
export async function takeBudgetWarning(db: Kysely<Database>, status: BudgetStatus, at: NoticePosition): Promise<string | undefined> {
  const sentences: string[] = [];
  for (const p of status.warnings) {
    const inserted = await db
      .insertInto('budget_notices')
      .values({
        agent_id: status.agentId,
        period: p.period,
        period_start: p.start,
        kind: 'warning',
        channel_id: at.channelId,
        turn_seq: at.turnSeq,
        step: at.step,
        spent_usd: p.spentUsd,
        cap_usd: p.capUsd ?? 0,
      })
      .onConflict((oc) => oc.columns(['agent_id', 'period', 'period_start', 'kind']).doNothing())
      .returning('agent_id')
      .executeTakeFirst();
    let announce = inserted !== undefined;
    if (!announce) {
      const existing = await db
        .selectFrom('budget_notices')
        .select(['channel_id', 'turn_seq', 'step'])
        .where('agent_id', '=', status.agentId)
        .where('period', '=', p.period)
        .where('period_start', '=', p.start)
        .where('kind', '=', 'warning')
        .executeTakeFirst();
      announce = existing?.channel_id === at.channelId && existing.turn_seq === at.turnSeq && existing.step === at.step;
    }
    if (announce) sentences.push(budgetWarningMessage(p));
  }
  return sentences.length ? sentences.join(' ') : undefined;
}
