import { chmod, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { createLogger } from '../lib/logger.js';
import { defaultToolsDir, findTemporalCli, missingCliMessage } from '../lib/temporal/cli-path.js';
import { canListen, freePorts } from './helpers/ports.js';
import { startDevServer, type DevServer, type DevServerOptions } from '../lib/temporal/dev-server.js';
import { AGENT, ALL_SEARCH_ATTRIBUTES } from '../lib/temporal/search-attributes.js';

const logger = createLogger('temporal-dev-server.test', process.env.LOG_LEVEL ?? 'silent');

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'spacebot-devserver-test-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let dirCount = 0;
async function freshDir(name: string): Promise<string> {
  const dir = path.join(scratch, `${name}-${dirCount++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function writeScript(file: string, body: string, mode = 0o755): Promise<string> {
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, mode);
  return file;
}

/** A directory holding an executable named `temporal`, as a tools dir or PATH entry would. */
async function dirWithFakeCli(name: string): Promise<string> {
  const dir = await freshDir(name);
  await writeScript(path.join(dir, 'temporal'), 'echo fake');
  return dir;
}

describe('findTemporalCli', () => {
  /** An env where nothing is found unless a test adds it; HOME and TMPDIR point at empty dirs. */
  async function isolatedEnv(overrides: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
    return {
      HOME: await freshDir('home'),
      TMPDIR: await freshDir('tmp'),
      SPACEBOT_TOOLS_DIR: await freshDir('empty-tools'),
      PATH: '',
      ...overrides,
    };
  }

  it('prefers TEMPORAL_CLI_PATH over every other location', async () => {
    const explicit = await writeScript(path.join(await freshDir('explicit'), 'my-temporal'), 'echo fake');
    const env = await isolatedEnv({
      TEMPORAL_CLI_PATH: explicit,
      SPACEBOT_TOOLS_DIR: await dirWithFakeCli('tools'),
      PATH: await dirWithFakeCli('bin'),
    });
    await expect(findTemporalCli(env)).resolves.toEqual({ path: explicit, source: 'TEMPORAL_CLI_PATH' });
  });

  it('throws instead of falling back when TEMPORAL_CLI_PATH is not executable', async () => {
    const notExecutable = await writeScript(path.join(await freshDir('explicit'), 'temporal'), 'echo fake', 0o644);
    const fallback = { SPACEBOT_TOOLS_DIR: await dirWithFakeCli('tools') };
    for (const bad of [notExecutable, path.join(scratch, 'does-not-exist'), scratch]) {
      const env = await isolatedEnv({ ...fallback, TEMPORAL_CLI_PATH: bad });
      await expect(findTemporalCli(env)).rejects.toThrow(`TEMPORAL_CLI_PATH is set to ${bad}, but that is not an executable`);
    }
  });

  it('prefers the tools dir over PATH', async () => {
    const tools = await dirWithFakeCli('tools');
    const env = await isolatedEnv({ SPACEBOT_TOOLS_DIR: tools, PATH: await dirWithFakeCli('bin') });
    await expect(findTemporalCli(env)).resolves.toEqual({ path: path.join(tools, 'temporal'), source: 'tools-dir' });
  });

  it('defaults the tools dir to ~/.cache/spacebot/bin', async () => {
    const home = await freshDir('home');
    const tools = path.join(home, '.cache', 'spacebot', 'bin');
    await mkdir(tools, { recursive: true });
    await writeScript(path.join(tools, 'temporal'), 'echo fake');
    const env = await isolatedEnv({ HOME: home, SPACEBOT_TOOLS_DIR: undefined });
    expect(defaultToolsDir(env)).toBe(tools);
    expect(defaultToolsDir({ SPACEBOT_TOOLS_DIR: '/opt/tools', HOME: home })).toBe('/opt/tools');
    await expect(findTemporalCli(env)).resolves.toEqual({ path: path.join(tools, 'temporal'), source: 'tools-dir' });
  });

  it('searches PATH in order, skipping dirs without an executable temporal', async () => {
    const nonExecutable = await freshDir('bin-noexec');
    await writeScript(path.join(nonExecutable, 'temporal'), 'echo fake', 0o644);
    const bin = await dirWithFakeCli('bin');
    const later = await dirWithFakeCli('bin-later');
    const pathVar = ['', await freshDir('bin-empty'), nonExecutable, bin, later].join(path.delimiter);
    const env = await isolatedEnv({ PATH: pathVar });
    await expect(findTemporalCli(env)).resolves.toEqual({ path: path.join(bin, 'temporal'), source: 'PATH' });
  });

  it("falls back to the newest complete CLI the Temporal SDK downloaded into the temp dir", async () => {
    const tmp = await freshDir('tmp');
    const older = await writeScript(path.join(tmp, 'temporal-sdk-typescript-1.23.0'), 'echo fake');
    const newer = await writeScript(path.join(tmp, 'temporal-sdk-typescript-1.24.0'), 'echo fake');
    await utimes(older, new Date('2024-01-01'), new Date('2024-01-01'));
    await utimes(newer, new Date('2025-01-01'), new Date('2025-01-01'));
    // Neither a half-finished download nor the SDK's separate test server may be picked.
    await writeScript(path.join(tmp, 'temporal-sdk-typescript-1.25.0.downloading'), 'echo partial');
    await writeScript(path.join(tmp, 'temporal-test-server-sdk-typescript-1.25.0'), 'echo test-server');
    const env = await isolatedEnv({ TMPDIR: tmp });
    await expect(findTemporalCli(env)).resolves.toEqual({ path: newer, source: 'sdk-cache' });
  });

  it('returns undefined when there is no CLI anywhere', async () => {
    await expect(findTemporalCli(await isolatedEnv())).resolves.toBeUndefined();
  });

  it('missingCliMessage names every way out', () => {
    const message = missingCliMessage();
    expect(message).toContain('npm run setup:temporal');
    expect(message).toContain('TEMPORAL_CLI_PATH');
    expect(message).toContain('TEMPORAL_ADDRESS');
  });
});

/** Three distinct free ports (callers use what they need); listeners stay open until all are picked. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

describe('startDevServer', () => {
  let cliPath: string;
  const running: DevServer[] = [];
  const connections: Connection[] = [];

  beforeAll(async () => {
    const cli = await findTemporalCli();
    // Deliberately not skipped: without the binary these tests must fail and say how to get it.
    if (!cli) throw new Error(missingCliMessage());
    cliPath = cli.path;
  });

  afterEach(async () => {
    await Promise.all(connections.splice(0).map((connection) => connection.close()));
    await Promise.all(running.splice(0).map((server) => server.stop()));
  });

  async function start(overrides: Partial<DevServerOptions> & { dataDir: string }): Promise<DevServer> {
    const server = await startDevServer({ cliPath, logger, ...overrides });
    running.push(server);
    return server;
  }

  async function connect(server: DevServer): Promise<Connection> {
    const connection = await Connection.connect({ address: server.address });
    connections.push(connection);
    return connection;
  }

  async function stopServer(server: DevServer): Promise<void> {
    await Promise.all(connections.splice(0).map((connection) => connection.close()));
    await server.stop();
    running.splice(running.indexOf(server), 1);
  }

  /** Visibility is updated asynchronously, so poll the list API briefly. */
  async function listedIds(client: Client, query: string): Promise<string[]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ids: string[] = [];
      for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
      if (ids.length > 0 || Date.now() > deadline) return ids;
      await sleep(200);
    }
  }

  it('registers the Spacebot search attributes and keeps workflows across a restart', async () => {
    const dataDir = await freshDir('data');
    const [port, uiPort] = (await freePorts(3)) as [number, number, number];
    const options = { dataDir, port, uiPort, namespace: 'spacebot-test' };
    const first = await start(options);
    expect(first).toMatchObject({ address: `127.0.0.1:${port}`, uiUrl: `http://127.0.0.1:${uiPort}` });

    const connection = await connect(first);
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'spacebot-test' });
    for (const key of ALL_SEARCH_ATTRIBUTES) {
      expect(customAttributes?.[key.name]).toBe(encodeSearchAttributeIndexedValueType(key.type));
    }

    // No worker polls this queue, so the workflow simply stays open: enough to prove persistence.
    const workflowId = `persist-${Date.now()}`;
    const client = new Client({ connection, namespace: 'spacebot-test' });
    await client.workflow.start('spacebotPersistenceProbe', {
      taskQueue: 'no-worker',
      workflowId,
      typedSearchAttributes: [{ key: AGENT, value: 'agent-persist' }],
    });
    await stopServer(first);
    expect((await stat(path.join(dataDir, 'temporal.db'))).size).toBeGreaterThan(0);

    const second = await start(options);
    const client2 = new Client({ connection: await connect(second), namespace: 'spacebot-test' });
    const query = `WorkflowId = '${workflowId}' AND SpacebotAgent = 'agent-persist'`;
    expect(await listedIds(client2, query)).toEqual([workflowId]);
  });

  it('says to use the running Temporal server when its port is taken', async () => {
    const [port, uiPort, otherUiPort] = (await freePorts(3)) as [number, number, number];
    await start({ dataDir: await freshDir('data'), port, uiPort });
    await expect(start({ dataDir: await freshDir('data'), port, uiPort: otherUiPort })).rejects.toThrow(
      `port ${port} is in use: another Temporal server is running; set TEMPORAL_ADDRESS=127.0.0.1:${port} to use it`,
    );
  });

  it('says when the port is held by something that is not Temporal', async () => {
    const [port, uiPort] = (await freePorts(3)) as [number, number, number];
    const squatter = net.createServer();
    // The probe's gRPC socket to a peer that never speaks HTTP/2 is not closed by the client, so
    // close it from this side; otherwise squatter.close() would wait for it forever.
    const sockets = new Set<net.Socket>();
    squatter.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      await expect(start({ dataDir: await freshDir('data'), port, uiPort })).rejects.toThrow(
        `port ${port} is in use by a process that is not a Temporal server`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('reports a taken UI port from the server output', async () => {
    const [port, uiPort] = (await freePorts(3)) as [number, number, number];
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(uiPort, '127.0.0.1', resolve));
    try {
      await expect(start({ dataDir: await freshDir('data'), port, uiPort })).rejects.toThrow(
        new RegExp(`UI port ${uiPort} is in use.*\\nLast server output:\\n.*can't set UI port ${uiPort}`),
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('stop() ends the server process, frees the port and drops its exit hook', async () => {
    const [port, uiPort] = (await freePorts(3)) as [number, number, number];
    const exitHooksBefore = process.listenerCount('exit');
    const server = await start({ dataDir: await freshDir('data'), port, uiPort });
    expect(isAlive(server.pid)).toBe(true);
    expect(process.listenerCount('exit')).toBe(exitHooksBefore + 1);

    await stopServer(server);
    expect(isAlive(server.pid)).toBe(false);
    expect(process.listenerCount('exit')).toBe(exitHooksBefore);
    await expect(server.stop()).resolves.toBeUndefined();
    await expect(canListen(port)).resolves.toBe(true);
  });

  it('reports the tail of stderr when the CLI exits before it is ready', async () => {
    const fake = await writeScript(path.join(await freshDir('bad-cli'), 'temporal'), 'echo "boom: unknown flag" >&2\nexit 3');
    await expect(start({ cliPath: fake, dataDir: await freshDir('data') })).rejects.toThrow(
      /exited \(code 3\) before it was ready\.\nLast server output:\nboom: unknown flag/,
    );
  });

  it('says so when the CLI path cannot be run at all', async () => {
    const missing = path.join(scratch, 'no-such-temporal');
    await expect(start({ cliPath: missing, dataDir: await freshDir('data') })).rejects.toThrow(
      `could not run the temporal CLI at ${missing}: spawn ${missing} ENOENT`,
    );
  });

  it('gives up after readyTimeoutMs and kills the unresponsive process', async () => {
    const dir = await freshDir('hung-cli');
    const pidFile = path.join(dir, 'pid');
    const fake = await writeScript(path.join(dir, 'temporal'), `echo $$ > ${pidFile}\nexec sleep 60`);
    const [port] = (await freePorts(3)) as [number, number, number];
    await expect(start({ cliPath: fake, dataDir: await freshDir('data'), port, readyTimeoutMs: 500 })).rejects.toThrow(
      `did not answer on 127.0.0.1:${port} within 500 ms`,
    );
    expect(isAlive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });
});
