import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Validates docker-compose.yml with `docker-compose config` (Debian's docker-compose v1; no Docker
 * engine needed) and checks the normalised result: the nine services, the images, health checks
 * and start order, that the required secrets really are required, and that the tools service (which
 * runs the commands chat users steer) gets no secret and cannot reach the database.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');

const REQUIRED_ENV = {
  POSTGRES_PASSWORD: 'dummy-postgres-password',
  TEMPORAL_DB_PASSWORD: 'dummy-temporal-password',
  SPACEBOT_DB_PASSWORD: 'dummy-spacebot-password',
  SPACEBOT_API_TOKEN: 'dummy-api-token',
};

const SERVICES = ['postgres', 'temporal-schema', 'temporal', 'temporal-setup', 'temporal-ui', 'spacebot-worker', 'spacebot-api', 'spacebot-gateway', 'spacebot-tools'];

/** Every optional secret the compose file passes on, set to a recognisable value. */
const OPTIONAL_SECRETS = {
  ANTHROPIC_API_KEY: 'dummy-anthropic-key',
  OPENAI_API_KEY: 'dummy-openai-key',
  TELEGRAM_BOT_TOKEN: 'dummy-telegram-token',
  DISCORD_BOT_TOKEN: 'dummy-discord-token',
  SLACK_BOT_TOKEN: 'dummy-slack-bot-token',
  SLACK_APP_TOKEN: 'dummy-slack-app-token',
  SLACK_SIGNING_SECRET: 'dummy-slack-signing-secret',
  SPACEBOT_MASTER_KEY: 'dummy-master-key',
};

let scratch: string;
let emptyEnvFile: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-compose-test-'));
  // An empty --env-file keeps a developer's own .env (git-ignored, next to the compose file) out.
  emptyEnvFile = path.join(scratch, 'empty.env');
  writeFileSync(emptyEnvFile, '');
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

interface ComposeResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs docker-compose with exactly `vars` (plus PATH/HOME), never the caller's own variables. */
function compose(args: string[], vars: Record<string, string>): ComposeResult {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? scratch, LANG: 'C.UTF-8', ...vars };
  const run = spawnSync('docker-compose', ['--env-file', emptyEnvFile, '-f', COMPOSE_FILE, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error) {
    const code = (run.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error('docker-compose is not on PATH: install it with `apt-get install docker-compose` (Debian/Ubuntu) to run this test');
    }
    throw run.error;
  }
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function configOrFail(vars: Record<string, string>): string {
  const run = compose(['config'], vars);
  if (run.status !== 0) throw new Error(`docker-compose config exited ${run.status}:\n${run.stderr}`);
  return run.stdout;
}

/**
 * Splits the normalised `config` YAML into one text block per service. The output is
 * machine-written (two-space indentation, one key per line), so indentation is enough.
 */
function serviceBlocks(yaml: string): Map<string, string> {
  const blocks = new Map<string, string>();
  let inServices = false;
  let current: string | undefined;
  for (const line of yaml.split('\n')) {
    if (/^\S/.test(line)) {
      inServices = line.startsWith('services:');
      current = undefined;
      continue;
    }
    if (!inServices) continue;
    const name = /^ {2}([A-Za-z0-9._-]+):\s*$/.exec(line)?.[1];
    if (name) {
      current = name;
      blocks.set(name, '');
    } else if (current) {
      blocks.set(current, `${blocks.get(current)}${line}\n`);
    }
  }
  return blocks;
}

function block(blocks: Map<string, string>, name: string): string {
  const text = blocks.get(name);
  if (text === undefined) throw new Error(`service ${name} missing from docker-compose config output`);
  return text;
}

/** The entries of a section (`environment`, `networks`, ...) of a service block, one per line, as written. */
function section(serviceBlock: string, name: string): string[] {
  const lines = serviceBlock.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^ {4}${name}:\\s*$`).test(l));
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!/^ {4}[ -]/.test(line)) break;
    if (/^ {6}\S|^ {4}- /.test(line)) out.push(line.trim());
  }
  return out;
}

/** The names of a section's entries (`KEY: value` or `name: null` -> KEY / name). */
function keys(serviceBlock: string, name: string): string[] {
  return section(serviceBlock, name).map((l) => l.replace(/^- /, '').split(':')[0]!);
}

/** The `depends_on` section of a service block, as `dependency -> condition` pairs. */
function dependencies(serviceBlock: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = serviceBlock.split('\n');
  const start = lines.findIndex((l) => /^ {4}depends_on:\s*$/.test(l));
  if (start < 0) return out;
  let dep: string | undefined;
  for (const line of lines.slice(start + 1)) {
    if (!/^ {6}/.test(line)) break;
    const name = /^ {6}([A-Za-z0-9._-]+):\s*$/.exec(line)?.[1];
    if (name) dep = name;
    const condition = /^ {8}condition:\s*(\S+)/.exec(line)?.[1];
    if (dep && condition) out[dep] = condition;
  }
  return out;
}

describe('docker-compose.yml', () => {
  test('is valid with the required variables set and lists all nine services', () => {
    const run = compose(['config', '--services'], REQUIRED_ENV);
    expect(run.stderr).not.toMatch(/ERROR/);
    expect(run.status).toBe(0);
    const services = run.stdout.split('\n').filter(Boolean).sort();
    expect(services).toEqual([...SERVICES].sort());
  });

  test('normalised config: images, health checks and start order', () => {
    const output = configOrFail(REQUIRED_ENV);
    const blocks = serviceBlocks(output);
    expect([...blocks.keys()].sort()).toEqual([...SERVICES].sort());

    expect(block(blocks, 'postgres')).toMatch(/^ {4}image: pgvector\/pgvector:pg17$/m);
    // The chat gateway starts only with `--profile chat` (one connection per bot account).
    expect(block(blocks, 'spacebot-gateway')).toMatch(/profiles:\n\s+- chat/);
    expect(block(blocks, 'spacebot-gateway')).toMatch(/dist\/workers\/gateway\.js/);
    expect(output).not.toMatch(/auto-setup/);
    expect(block(blocks, 'temporal')).toMatch(/^ {4}image: temporalio\/server:1\.29\./m);
    expect(block(blocks, 'temporal-schema')).toMatch(/^ {4}image: temporalio\/admin-tools:1\.29/m);
    expect(block(blocks, 'temporal-setup')).toMatch(/^ {4}image: temporalio\/admin-tools:1\.29/m);
    expect(block(blocks, 'temporal-ui')).toMatch(/^ {4}image: temporalio\/ui:\d+\.\d+\.\d+$/m);

    for (const name of ['postgres', 'temporal', 'spacebot-api', 'spacebot-worker']) {
      expect({ name, healthcheck: /^ {4}healthcheck:/m.test(block(blocks, name)) }).toEqual({ name, healthcheck: true });
    }
    expect(block(blocks, 'postgres')).toMatch(/pg_isready/);
    expect(block(blocks, 'spacebot-api')).toMatch(/\/health/);

    expect(dependencies(block(blocks, 'temporal-schema'))).toEqual({ postgres: 'service_healthy' });
    expect(dependencies(block(blocks, 'temporal'))).toMatchObject({ 'temporal-schema': 'service_completed_successfully' });
    expect(dependencies(block(blocks, 'temporal-setup'))).toEqual({ temporal: 'service_healthy' });
    for (const name of ['spacebot-worker', 'spacebot-api']) {
      expect(dependencies(block(blocks, name))).toEqual({ postgres: 'service_healthy', 'temporal-setup': 'service_completed_successfully' });
    }

    // Same image, two roles.
    expect(block(blocks, 'spacebot-worker')).toMatch(/dist\/workers\/worker\.js/);
    expect(block(blocks, 'spacebot-api')).toMatch(/dist\/workers\/api\.js/);
    expect(block(blocks, 'spacebot-api')).toMatch(/DATABASE_URL: postgres:\/\/spacebot:dummy-spacebot-password@postgres:5432\/spacebot/);
    expect(block(blocks, 'spacebot-api')).toMatch(/TEMPORAL_ADDRESS: temporal:7233/);
    expect(block(blocks, 'spacebot-api')).toMatch(/SPACEBOT_HOST: 0\.0\.0\.0/);
  });

  test('spacebot-tools holds no secret, sees only the workspaces, and reaches Temporal alone', () => {
    const output = configOrFail({ ...REQUIRED_ENV, ...OPTIONAL_SECRETS });
    const blocks = serviceBlocks(output);
    const tools = block(blocks, 'spacebot-tools');
    expect(tools).toMatch(/dist\/workers\/tools\.js/);

    // Only where Temporal is, its own config path and the history payload key (encrypt_history): no
    // database URL, master key, provider key, token or password.
    expect(keys(tools, 'environment').sort()).toEqual([
      'LOG_LEVEL',
      'SPACEBOT_CONFIG',
      'SPACEBOT_DATA_DIR',
      'SPACEBOT_PAYLOAD_KEY',
      'SPACEBOT_PAYLOAD_KEY_PREVIOUS',
      'SPACEBOT_TASK_QUEUE',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
    ]);
    for (const [name, value] of Object.entries({ ...REQUIRED_ENV, ...OPTIONAL_SECRETS })) {
      expect({ name, inTools: tools.includes(value) }).toEqual({ name, inTools: false });
    }
    // The payload key reaches spacebot-tools (and no other service: the others derive it from the master key).
    const withPayloadKey = serviceBlocks(configOrFail({ ...REQUIRED_ENV, ...OPTIONAL_SECRETS, SPACEBOT_PAYLOAD_KEY: 'dummy-payload-key' }));
    expect([...withPayloadKey].filter(([, b]) => b.includes('dummy-payload-key')).map(([name]) => name)).toEqual(['spacebot-tools']);
    // The workspaces volume only: /data also holds generated secrets (master-key).
    expect(section(tools, 'volumes')).toEqual(['- spacebot-agents:/data/agents:rw']);
    expect(tools).not.toMatch(/^ {4}ports:/m);

    // Its only network is shared with Temporal alone, has no way out, and PostgreSQL is not on it.
    expect(keys(tools, 'networks')).toEqual(['tools']);
    const onTools = [...blocks].filter(([, b]) => keys(b, 'networks').includes('tools')).map(([name]) => name);
    expect(onTools.sort()).toEqual(['spacebot-tools', 'temporal']);
    expect(keys(block(blocks, 'postgres'), 'networks')).toEqual(['database']);
    expect(output).toMatch(/^networks:\n(?: {2}.*\n)*? {2}tools:\n {4}internal: true$/m);
    expect(output).toMatch(/^networks:\n(?: {2}.*\n)*? {2}database:\n {4}internal: true$/m);

    // Exactly what bubblewrap needs, and no capability.
    expect(section(tools, 'cap_drop')).toEqual(['- ALL']);
    expect(section(tools, 'cap_add')).toEqual([]);
    expect(tools).toMatch(/^ {4}read_only: true$/m);
    expect(tools).not.toMatch(/privileged: true/);
    // A ceiling for everything the sandboxed commands start, in processes and in memory (no swap beyond it).
    expect(tools).toMatch(/^ {4}pids_limit: 1024$/m);
    expect(tools).toMatch(/^ {4}mem_limit: 4g$/m);
    expect(tools).toMatch(/^ {4}memswap_limit: 4g$/m);
    expect(section(tools, 'security_opt').sort()).toEqual([
      '- apparmor=unconfined',
      '- no-new-privileges:true',
      '- seccomp:./deploy/seccomp/spacebot-tools.json',
      '- systempaths=unconfined',
    ]);

    // The roles that hold the secrets leave workers' tools to it and are not on its network.
    for (const name of ['spacebot-worker', 'spacebot-api', 'spacebot-gateway']) {
      const b = block(blocks, name);
      expect({ name, external: /^ {6}SPACEBOT_TOOLS_SERVICE: external$/m.test(b), networks: keys(b, 'networks').sort() }).toEqual({
        name,
        external: true,
        networks: ['database', 'default'],
      });
    }
    expect(block(blocks, 'spacebot-worker')).toMatch(/ANTHROPIC_API_KEY: dummy-anthropic-key/);
  });

  test('the tools seccomp profile lets bubblewrap build namespaces and refuses the usual escape routes', () => {
    const profile = JSON.parse(readFileSync(path.join(ROOT, 'deploy/seccomp/spacebot-tools.json'), 'utf8')) as {
      defaultAction: string;
      archMap: { architecture: string; subArchitectures: string[] }[];
      syscalls: { names: string[]; action: string }[];
    };
    const denied = profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ERRNO').flatMap((r) => r.names);
    for (const needed of ['unshare', 'clone', 'clone3', 'mount', 'umount2', 'pivot_root', 'setns']) expect({ needed, denied: denied.includes(needed) }).toEqual({ needed, denied: false });
    for (const refused of ['init_module', 'kexec_load', 'bpf', 'perf_event_open', 'io_uring_setup', 'keyctl', 'userfaultfd', 'open_by_handle_at', 'ptrace']) {
      expect({ refused, denied: denied.includes(refused) }).toEqual({ refused, denied: true });
    }
    expect(profile.archMap.find((a) => a.architecture === 'SCMP_ARCH_X86_64')?.subArchitectures).toEqual(expect.arrayContaining(['SCMP_ARCH_X86', 'SCMP_ARCH_X32']));
  });

  test('fails without SPACEBOT_API_TOKEN and names it', () => {
    const { SPACEBOT_API_TOKEN: _omitted, ...withoutToken } = REQUIRED_ENV;
    const run = compose(['config'], withoutToken);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/SPACEBOT_API_TOKEN/);
  });

  test('fails without each required database password', () => {
    for (const name of ['POSTGRES_PASSWORD', 'TEMPORAL_DB_PASSWORD', 'SPACEBOT_DB_PASSWORD'] as const) {
      const vars: Record<string, string> = { ...REQUIRED_ENV };
      delete vars[name];
      const run = compose(['config'], vars);
      expect({ name, status: run.status === 0 ? 0 : 'failed', named: run.stderr.includes(name) }).toEqual({ name, status: 'failed', named: true });
    }
  });

  test('deploy/env.example documents every variable the compose file reads', () => {
    const composeText = readFileSync(COMPOSE_FILE, 'utf8');
    const example = readFileSync(path.join(ROOT, 'deploy', 'env.example'), 'utf8');
    const used = new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const documented = new Set([...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect([...used].filter((name) => !documented.has(name)).sort()).toEqual([]);
  });
});
