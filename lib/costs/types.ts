/** Prices and budgets as the rest of the code reads them (resolved from `[pricing]` and `[budgets]`). */

/** USD per million tokens, by kind. `input` is uncached input; cache reads and writes are billed apart. */
export interface ModelPrice {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export interface PricingConfig {
  /** `provider/model` → configured price fields (from `[pricing."p/m"]`, or `[models."p/m"]` input/output). */
  models: Record<string, Partial<ModelPrice>>;
  /** For models neither the config nor the built-in table prices; such calls are flagged `priced_by_default`. */
  default: ModelPrice;
}

export interface BudgetLimits {
  /** USD per UTC day; undefined = no daily cap. */
  dailyUsd?: number;
  /** USD per UTC calendar month; undefined = no monthly cap. */
  monthlyUsd?: number;
  /** Fraction of a cap at which the conversation is warned once per period (default 0.8). */
  warnAt: number;
}

export interface BudgetsConfig extends BudgetLimits {
  /** Per-agent overrides (`[budgets.agents.<id>]`); unset keys inherit `[budgets]`. */
  agents: Record<string, Partial<BudgetLimits>>;
}
