/** Costs: prices, the per-call ledger and per-agent budgets. See docs/costs.md. */
export { BUILTIN_PRICES, DEFAULT_PRICE, builtinPrice, costOf, priceFor, type ResolvedPrice } from './pricing.js';
export { recordLlmCall, type LedgerEntry, type LedgerCost } from './ledger.js';
export {
  budgetLimits,
  budgetStopMessage,
  budgetWarningMessage,
  checkBudget,
  takeBudgetWarning,
  type BudgetPeriod,
  type BudgetStatus,
  type PeriodStatus,
} from './budget.js';
export type { BudgetLimits, BudgetsConfig, ModelPrice, PricingConfig } from './types.js';
