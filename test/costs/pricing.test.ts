import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config/load.js';
import { budgetLimits } from '../../lib/costs/budget.js';
import { DEFAULT_PRICE, builtinPrice, costOf, priceFor } from '../../lib/costs/pricing.js';
import { resolveModels } from '../../lib/llm/routing.js';

function configWith(toml: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-costs-'));
  const file = path.join(dir, 'spacebot.toml');
  writeFileSync(file, toml);
  return loadConfig({ file, cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data') } });
}

describe('built-in prices', () => {
  test('common models of each provider are priced, dated snapshots match their base', () => {
    expect(builtinPrice({ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' })).toEqual({ input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 });
    expect(builtinPrice({ provider: 'anthropic', model: 'claude-opus-4-1' })?.input).toBe(15);
    expect(builtinPrice({ provider: 'anthropic', model: 'claude-opus-4-5' })?.input).toBe(5);
    expect(builtinPrice({ provider: 'anthropic', model: 'claude-haiku-4-5' })?.output).toBe(5);
    expect(builtinPrice({ provider: 'openai', model: 'gpt-5-mini' })).toEqual({ input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0 });
    expect(builtinPrice({ provider: 'openai', model: 'gpt-4.1-2025-04-14' })?.input).toBe(2);
    expect(builtinPrice({ provider: 'openai', model: 'gpt-4.1-mini' })?.input).toBe(0.4);
    expect(builtinPrice({ provider: 'ollama', model: 'qwen3:32b' })?.output).toBe(0);
    expect(builtinPrice({ provider: 'openai', model: 'gpt-9-turbo' })).toBeUndefined();
    expect(builtinPrice({ provider: 'backup', model: 'claude-sonnet-4-5' })).toBeUndefined();
  });

  test('cost is tokens by kind times price per million, exact to 1e-8 USD', () => {
    const price = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };
    expect(costOf({ inputTokens: 1000, outputTokens: 500, cacheReadTokens: 2000, cacheWriteTokens: 300 }, price)).toBe(0.012225);
    expect(costOf({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, price)).toBe(0);
    expect(costOf({ inputTokens: 1, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, { ...price, input: 0.05 })).toBe(0.00000005);
  });
});

describe('[pricing] config', () => {
  test('unknown models are priced by the default and flagged; [pricing.default] sets it', () => {
    const plain = configWith('');
    expect(priceFor(plain.pricing, { provider: 'openai', model: 'gpt-9-turbo' })).toEqual({ price: DEFAULT_PRICE, pricedByDefault: true, source: 'default' });
    const custom = configWith('[pricing.default]\ninput_per_mtok = 10\noutput_per_mtok = 30\n');
    expect(priceFor(custom.pricing, { provider: 'openai', model: 'gpt-9-turbo' })).toEqual({
      price: { input: 10, output: 30, cacheRead: 1, cacheWrite: 12.5 },
      pricedByDefault: true,
      source: 'default',
    });
    expect(priceFor(custom.pricing, { provider: 'openai', model: 'gpt-5-mini' }).pricedByDefault).toBe(false);
  });

  test('[pricing."p/m"] overrides the built-in entry field by field; [models] prices count too, [pricing] wins', () => {
    const config = configWith(`
[pricing."anthropic/claude-sonnet-4-5"]
input_per_mtok = 2.5

[models."backup/cheap"]
cost_rank = 1
input_per_mtok = 0.5
output_per_mtok = 1

[models."backup/both"]
input_per_mtok = 9
output_per_mtok = 9
[pricing."backup/both"]
output_per_mtok = 4

[providers.backup]
kind = "openai"
base_url = "http://127.0.0.1:1/v1"
`);
    expect(priceFor(config.pricing, { provider: 'anthropic', model: 'claude-sonnet-4-5' })).toEqual({
      price: { input: 2.5, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
      pricedByDefault: false,
      source: 'config',
    });
    expect(priceFor(config.pricing, { provider: 'backup', model: 'cheap' })).toEqual({
      price: { input: 0.5, output: 1, cacheRead: 0.05, cacheWrite: 0.625 },
      pricedByDefault: false,
      source: 'config',
    });
    expect(priceFor(config.pricing, { provider: 'backup', model: 'both' }).price).toMatchObject({ input: 9, output: 4 });
  });

  test('a config price for an unknown model that lacks input or output is still flagged', () => {
    const config = configWith('[pricing."openai/gpt-9"]\ninput_per_mtok = 1\n');
    const resolved = priceFor(config.pricing, { provider: 'openai', model: 'gpt-9' });
    expect(resolved.pricedByDefault).toBe(true);
    expect(resolved.price.output).toBe(DEFAULT_PRICE.output);
  });

  test('routing compares [pricing] prices when neither model has a cost_rank', () => {
    const config = configWith(`
[routing.fallbacks]
"openai/cheap-primary" = ["openai/dear-fallback", "openai/cheap-fallback"]
[pricing."openai/cheap-primary"]
input_per_mtok = 1
output_per_mtok = 2
[pricing."openai/dear-fallback"]
input_per_mtok = 10
output_per_mtok = 20
[pricing."openai/cheap-fallback"]
input_per_mtok = 0.1
output_per_mtok = 0.2
[[agents]]
id = "main"
model = "openai/cheap-primary"
`);
    const route = resolveModels(config, { agent: config.agents[0]!, process: 'channel' });
    expect(route.models.map((m) => m.model)).toEqual(['cheap-primary', 'cheap-fallback']);
    expect(route.skipped).toEqual([{ model: 'openai/dear-fallback', reason: 'more_expensive' }]);
  });

  test('bad keys are refused with the key named', () => {
    expect(() => configWith('[pricing."nope"]\ninput_per_mtok = 1\n')).toThrow(/pricing\.nope/);
    expect(() => configWith('[pricing."openai/x"]\ninput = 1\n')).toThrow(/pricing\.openai\/x\.input/);
    expect(() => configWith('[pricing."openai/x"]\ninput_per_mtok = -1\n')).toThrow(ConfigError);
  });
});

describe('[budgets] config', () => {
  test('defaults, per-agent overrides and warn_at', () => {
    const config = configWith(`
[budgets]
daily_usd = 5
monthly_usd = 100

[budgets.agents.frugal]
daily_usd = 1
warn_at = 0.5

[[agents]]
id = "main"
[[agents]]
id = "frugal"
`);
    expect(budgetLimits(config, 'main')).toEqual({ dailyUsd: 5, monthlyUsd: 100, warnAt: 0.8 });
    expect(budgetLimits(config, 'frugal')).toEqual({ dailyUsd: 1, monthlyUsd: 100, warnAt: 0.5 });
    expect(budgetLimits(configWith(''), 'main')).toEqual({ warnAt: 0.8 });
  });

  test('an unknown agent or a bad value is refused with the key named', () => {
    expect(() => configWith('[budgets.agents.ghost]\ndaily_usd = 1\n')).toThrow(/budgets\.agents\.ghost.*unknown agent "ghost"/);
    expect(() => configWith('[budgets]\nwarn_at = 1.5\n')).toThrow(/budgets\.warn_at/);
    expect(() => configWith('[budgets]\ndaily_usd = 0\n')).toThrow(/budgets\.daily_usd/);
    expect(() => configWith('[budgets]\nweekly_usd = 3\n')).toThrow(/budgets\.weekly_usd/);
  });
});
