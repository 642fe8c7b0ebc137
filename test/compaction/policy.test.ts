import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONTEXT_WINDOW, contextWindowFor } from '../../lib/compaction/context-window.js';
import { assertToolPairsIntact, splitToolPairs, ToolPairSplitError } from '../../lib/compaction/entries.js';
import { chooseCompactionRange } from '../../lib/compaction/plan.js';
import { contextTokensOf, estimateMessageTokens, estimateTextTokens } from '../../lib/compaction/tokens.js';
import { loadConfig } from '../../lib/config/load.js';
import {
  SUMMARISE_FRACTION,
  SUMMARISE_MORE_FRACTION,
  TRUNCATE_FRACTION,
  compactionAction,
} from '../../workflows/compaction-policy.js';
import { plainTurn, toolTurn, turnEntries } from './fixtures.js';

describe('compactionAction', () => {
  test.each([
    [0, 'none', undefined],
    [799, 'none', undefined],
    [800, 'summarise', SUMMARISE_FRACTION],
    [849, 'summarise', SUMMARISE_FRACTION],
    [850, 'summarise', SUMMARISE_MORE_FRACTION],
    [949, 'summarise', SUMMARISE_MORE_FRACTION],
    [950, 'truncate', TRUNCATE_FRACTION],
    [1200, 'truncate', TRUNCATE_FRACTION],
  ])('%i of 1000 tokens → %s', (used, kind, fraction) => {
    const action = compactionAction(used, 1000);
    expect(action.kind).toBe(kind);
    expect('fraction' in action ? action.fraction : undefined).toBe(fraction);
  });

  test('the fractions are those of the spec', () => {
    expect([SUMMARISE_FRACTION, SUMMARISE_MORE_FRACTION, TRUNCATE_FRACTION]).toEqual([0.3, 0.5, 0.5]);
  });

  test('an unknown window never compacts', () => {
    expect(compactionAction(5000, 0).kind).toBe('none');
    expect(compactionAction(Number.NaN, 1000).kind).toBe('none');
  });
});

describe('token accounting', () => {
  test('the context of a call is its input plus cache reads and writes', () => {
    expect(contextTokensOf({ inputTokens: 120, cacheReadTokens: 3000, cacheWriteTokens: 400 })).toBe(3520);
  });

  test('the estimate is about four characters a token, plus framing', () => {
    expect(estimateTextTokens('x'.repeat(400))).toBe(100);
    expect(estimateTextTokens('abc')).toBe(1);
    const short = estimateMessageTokens({ role: 'user', parts: [{ type: 'text', text: 'x'.repeat(40) }] });
    const long = estimateMessageTokens({ role: 'user', parts: [{ type: 'text', text: 'x'.repeat(4000) }] });
    expect(long - short).toBe(990);
  });
});

describe('contextWindowFor', () => {
  test('knows common models, across providers that prefix the vendor', () => {
    const config = { models: {} };
    expect(contextWindowFor(config, 'anthropic/claude-sonnet-5-5')).toBe(200_000);
    expect(contextWindowFor(config, 'openrouter/anthropic/claude-haiku-5-5')).toBe(200_000);
    expect(contextWindowFor(config, { provider: 'openai', model: 'gpt-4o-mini' })).toBe(128_000);
    expect(contextWindowFor(config, 'openai/gpt-4.1')).toBe(1_047_576);
    expect(contextWindowFor(config, 'openai/gpt-5.4')).toBe(400_000);
    expect(contextWindowFor(config, 'ollama/some-local-model')).toBe(DEFAULT_CONTEXT_WINDOW);
  });

  test('[models."p/m"] context_window overrides the table', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-window-'));
    const file = path.join(dir, 'spacebot.toml');
    writeFileSync(file, '[models."anthropic/claude-haiku-5-5"]\ncontext_window = 2000\n');
    const config = loadConfig({ file, cwd: dir, env: {} });
    expect(contextWindowFor(config, 'anthropic/claude-haiku-5-5')).toBe(2000);
    expect(contextWindowFor(config, 'anthropic/claude-sonnet-5-5')).toBe(200_000);
  });

  test('a context_window that is not a whole number of tokens stops start-up naming the key', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-window-'));
    const file = path.join(dir, 'spacebot.toml');
    writeFileSync(file, '[models."openai/gpt-5-mini"]\ncontext_window = "big"\n');
    expect(() => loadConfig({ file, cwd: dir, env: {} })).toThrow(/models\.openai\/gpt-5-mini\.context_window/);
  });
});

describe('chooseCompactionRange', () => {
  const entriesOf = (...turns: [number, ReturnType<typeof toolTurn>][]) => turns.flatMap(([n, spec]) => turnEntries(n, spec));

  test('takes the oldest 30 % of ten turns: three whole turns, tool pairs and all', () => {
    const entries = entriesOf(...Array.from({ length: 10 }, (_, i): [number, ReturnType<typeof toolTurn>] => [i + 1, i % 2 ? plainTurn(i + 1) : toolTurn(i + 1)]));
    const range = chooseCompactionRange({ entries, fraction: 0.3, eligibleThrough: 9, historyTurns: 40 });
    expect(range).toMatchObject({ fromTurn: 1, summaryFromTurn: 1, throughTurn: 3, turns: 3, contextTurns: 10 });
    // Turns 1 and 3 carry a tool call and its result (4 rows each), turn 2 is plain (2 rows).
    expect(range?.entries).toBe(10);
    expect(splitToolPairs(entries, range?.throughTurn ?? 0)).toEqual([]);
  });

  test('takes half at 0.5, rounding up to a whole turn', () => {
    const entries = entriesOf(...Array.from({ length: 7 }, (_, i): [number, ReturnType<typeof toolTurn>] => [i + 1, toolTurn(i + 1)]));
    expect(chooseCompactionRange({ entries, fraction: 0.5, eligibleThrough: 7, historyTurns: 40 })?.throughTurn).toBe(4);
  });

  test('never takes the running turn or later ones', () => {
    const entries = entriesOf(...Array.from({ length: 6 }, (_, i): [number, ReturnType<typeof toolTurn>] => [i + 1, toolTurn(i + 1)]));
    expect(chooseCompactionRange({ entries, fraction: 0.5, eligibleThrough: 2, historyTurns: 40 })?.throughTurn).toBe(2);
    expect(chooseCompactionRange({ entries, fraction: 0.5, eligibleThrough: 0, historyTurns: 40 })).toBeUndefined();
  });

  test('counts the history window only, and archives the invisible turns before it', () => {
    const entries = entriesOf(...Array.from({ length: 12 }, (_, i): [number, ReturnType<typeof toolTurn>] => [i + 11, plainTurn(i + 11)]));
    // historyTurns 10: the window is turns 13..22; 30 % of 10 = 3 → through turn 15; 11 and 12 go too.
    const range = chooseCompactionRange({ entries, fraction: 0.3, eligibleThrough: 21, historyTurns: 10 });
    expect(range).toMatchObject({ fromTurn: 11, summaryFromTurn: 13, throughTurn: 15, turns: 5, contextTurns: 10 });
  });

  test('moves the cut back when a result was stored in a later turn than its call', () => {
    const entries = entriesOf([1, plainTurn(1)], [2, toolTurn(2)], [3, plainTurn(3)], [4, plainTurn(4)]);
    // A corrupted layout: turn 2's result sits in turn 3.
    const moved = entries.map((e) => (e.role === 'tool' ? { ...e, turnSeq: 3, step: 5 } : e)).sort((a, b) => a.turnSeq - b.turnSeq || a.step - b.step || a.idx - b.idx);
    const range = chooseCompactionRange({ entries: moved, fraction: 0.5, eligibleThrough: 4, historyTurns: 40 });
    expect(range?.throughTurn).toBe(1);
    expect(() => assertToolPairsIntact(moved, 2)).toThrow(ToolPairSplitError);
    expect(() => assertToolPairsIntact(moved, 3)).not.toThrow();
  });

  test('nothing to take in an empty context', () => {
    expect(chooseCompactionRange({ entries: [], fraction: 0.3, eligibleThrough: 5, historyTurns: 40 })).toBeUndefined();
  });
});
