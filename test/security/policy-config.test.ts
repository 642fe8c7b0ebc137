import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config/load.js';
import { KNOWN_TOOL_NAMES } from '../../lib/policy/tool-names.js';
import { toolsFor } from '../../lib/tools/process-tools.js';
import type { Database } from '../../lib/db/schema.js';
import type { Kysely } from 'kysely';

/**
 * The tool-policy keys of spacebot.toml: defaults, and one-line errors that name the key for every
 * mistake an operator could make (a misspelt tool in a deny list must not silently allow it).
 */
function load(toml: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-policy-'));
  const file = path.join(dir, 'spacebot.toml');
  writeFileSync(file, toml);
  return loadConfig({ file, cwd: dir, env: { ANTHROPIC_API_KEY: 'sk-ant-test' } });
}

function errorOf(toml: string): string {
  try {
    load(toml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    return message;
  }
  throw new Error('expected a configuration error');
}

test('an agent without policy keys runs with full autonomy, every tool, everyone may start workers, 10 minute approvals', () => {
  const [agent] = load('[[agents]]\nid = "main"\n').agents;
  expect(agent!.policy).toEqual({ autonomy: 'full', toolsDeny: [], approvers: [], approvalTimeoutMs: 600_000 });
});

test('policy keys resolve per agent, and a binding may override the autonomy', () => {
  const config = load(
    [
      '[[agents]]\nid = "ops"\nautonomy = "supervised"\ntools_deny = ["shell"]\nworker_users = ["telegram:42", "discord-work:8035"]\napprovers = ["telegram:42"]\napproval_timeout_minutes = 2',
      '[[agents]]\nid = "reader"\nautonomy = "readonly"\ntools_allow = ["file_read", "file_list", "spawn_worker"]',
      '[adapters.telegram.default]\ntoken = "1:abc"',
      '[[bindings]]\nagent = "ops"\nplatform = "telegram"\nchat = "-100"\nautonomy = "readonly"',
    ].join('\n\n'),
  );
  expect(config.agents[0]!.policy).toEqual({
    autonomy: 'supervised',
    toolsDeny: ['shell'],
    workerUsers: ['telegram:42', 'discord-work:8035'],
    approvers: ['telegram:42'],
    approvalTimeoutMs: 120_000,
  });
  expect(config.agents[1]!.policy).toMatchObject({ autonomy: 'readonly', toolsAllow: ['file_read', 'file_list', 'spawn_worker'] });
  expect(config.bindings[0]).toMatchObject({ agent: 'ops', autonomy: 'readonly' });
});

test.each([
  ['autonomy = "yolo"', '"agents.0.autonomy"'],
  ['tools_deny = ["shel"]', '"agents.0.tools_deny.0": unknown tool "shel"'],
  ['tools_allow = ["file_read", "Shell!"]', '"agents.0.tools_allow.1"'],
  ['tools_allow = ["shell"]\ntools_deny = ["shell"]', '"agents.0.tools_deny": "shell" is in tools_allow too'],
  ['tools_deny = ["reply"]', '"agents.0.tools_deny": "reply" cannot be denied'],
  ['worker_users = ["42"]', '"agents.0.worker_users.0": expected "<platform>:<user id>"'],
  ['approvers = ["telegram: 42"]', '"agents.0.approvers.0"'],
  ['approval_timeout_minutes = 0', '"agents.0.approval_timeout_minutes"'],
])('%s is refused with one line naming the key', (keys, expected) => {
  expect(errorOf(`[[agents]]\nid = "main"\n${keys}\n`)).toContain(expected);
});

test('a binding with an unknown autonomy is refused naming the key', () => {
  expect(errorOf('[[bindings]]\nagent = "main"\nplatform = "telegram"\nautonomy = "root"\n')).toContain('"bindings.0.autonomy"');
});

test('the known tool names are exactly the tools the processes can be offered', () => {
  const config = load('[[agents]]\nid = "main"\nmemory_tools_for_workers = true\n');
  const db = {} as Kysely<Database>;
  const agent = config.agents[0]!;
  const offered = new Set((['channel', 'branch', 'worker'] as const).flatMap((p) => toolsFor(config, db, agent, p).tools.map((t) => t.name)));
  expect([...offered].sort()).toEqual([...KNOWN_TOOL_NAMES].sort());
});

test('readonly and the lists take tools away from what a worker is offered; reply, skip and set_status always stay', () => {
  const config = load('[[agents]]\nid = "ro"\nautonomy = "readonly"\n\n[[agents]]\nid = "picky"\ntools_allow = ["file_read"]\n\n[[agents]]\nid = "noshell"\ntools_deny = ["shell", "react"]\n');
  const db = {} as Kysely<Database>;
  const names = (id: string, p: 'channel' | 'worker') => toolsFor(config, db, config.agents.find((a) => a.id === id)!, p, config.agents.find((a) => a.id === id)!.policy.autonomy).tools.map((t) => t.name);
  expect(names('ro', 'worker').sort()).toEqual(['file_list', 'file_read', 'set_status']);
  expect(names('picky', 'worker').sort()).toEqual(['file_read', 'set_status']);
  expect(names('picky', 'channel').sort()).toEqual(['reply', 'skip']);
  expect(names('noshell', 'worker')).not.toContain('shell');
  expect(names('noshell', 'channel')).not.toContain('react');
  expect(names('noshell', 'channel')).toContain('spawn_worker');
});
