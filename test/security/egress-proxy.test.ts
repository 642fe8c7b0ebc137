import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lib/config/load.js';
import type { ToolsConfig } from '../../lib/config/types.js';
import { startWorkerEgress } from '../../lib/net/sandbox-egress.js';
import { createLogger } from '../../lib/logger.js';
import { makeWorkerTools } from '../../lib/tools/workspace/index.js';

/**
 * Issue 13, "network": with `[tools] network = "guarded"` a sandboxed shell reaches out only through
 * the egress proxy. Real traffic only to 127.0.0.1: "site" plays the internet (allowed with its port
 * in `[network] egress_allow`), "internal" a service on another loopback port, as the database or
 * Temporal would be, and "receiver" a webhook receiver the operator allowed for webhooks only
 * (`[network] allow`), which sandboxed commands must not reach. Other forbidden ranges are covered by test/net/ (no packet is sent to them).
 */

interface Listening {
  server: Server;
  port: number;
  hits: string[];
}

function listen(text: string): Promise<Listening> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end(text);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, hits })));
}

let site: Listening;
let internal: Listening;
let receiver: Listening;
let stopEgress: (() => Promise<void>) | undefined;
let workspace: string;
let tools: ToolsConfig;

beforeAll(async () => {
  site = await listen('hello from the internet');
  internal = await listen('internal secret');
  receiver = await listen('webhook receiver');
  workspace = mkdtempSync(path.join(os.tmpdir(), 'spacebot-egress-ws-'));
  // The operator's configuration, as the worker's start-up reads it.
  const file = path.join(workspace, 'spacebot.toml');
  writeFileSync(file, `[tools]\nsandbox = "bwrap"\nnetwork = "guarded"\n\n[network]\nallow = ["127.0.0.1:${receiver.port}"]\negress_allow = ["127.0.0.1:${site.port}"]\n`);
  const config = loadConfig({ file, cwd: workspace, env: {} });
  tools = config.tools;
  // As the worker's (or the tools service's) start-up does, before it builds the tools.
  stopEgress = await startWorkerEgress(config, createLogger('egress-test', 'silent'));
});
afterAll(async () => {
  await stopEgress?.();
  site?.server.close();
  internal?.server.close();
  receiver?.server.close();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});
beforeEach(() => {
  site.hits.length = 0;
  internal.hits.length = 0;
  receiver.hits.length = 0;
});

/** Runs a command through the workers' shell tool, built from the `[tools]` settings as the tools Worker builds it. */
async function sandboxed(command: string, settings: ToolsConfig = tools): Promise<string> {
  const shell = makeWorkerTools(settings).find((t) => t.name === 'shell');
  if (!shell) throw new Error('no shell tool: is bubblewrap usable here?');
  return shell.run({ command, timeout_seconds: 60 }, { agentId: 'main', channelId: 'egress-test', signal: new AbortController().signal, workspace });
}

test('an allowed destination is reached through the proxy, over plain http and through CONNECT', async () => {
  const out = await sandboxed(`curl -sS -m 10 http://127.0.0.1:${site.port}/plain; echo; curl -sS -m 10 --proxytunnel http://127.0.0.1:${site.port}/tunnel; echo; echo "proxy=$HTTPS_PROXY"`);
  expect(out).toContain('hello from the internet\nhello from the internet\n');
  expect(out).toContain('proxy=http://127.0.0.1:3128');
  expect(site.hits).toEqual(['GET /plain', 'GET /tunnel']);
});

test('another loopback port is refused by the proxy, by address and by a name resolving to 127.0.0.1, with and without CONNECT', async () => {
  const out = await sandboxed(
    [
      `curl -sS -m 10 http://127.0.0.1:${internal.port}/a`,
      `curl -sS -m 10 http://localhost:${internal.port}/b`,
      `curl -sS -m 10 http://[::ffff:127.0.0.1]:${internal.port}/c`,
      `curl -sS -m 10 --proxytunnel http://127.0.0.1:${internal.port}/d 2>&1`,
      `curl -sS -m 10 -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:${internal.port}/e`,
    ].join('; echo; '),
  );
  expect(out).toContain('refused: loopback address 127.0.0.1');
  expect(out).toContain('refused: localhost resolves to a loopback address');
  expect(out).toContain('refused: IPv4-mapped IPv6 address');
  expect(out).toMatch(/CONNECT tunnel failed, response 403/);
  expect(out).toMatch(/^403$/m);
  expect(out).not.toContain('internal secret');
  expect(internal.hits).toEqual([]);
});

test("a destination in [network] allow (the webhooks' list) is refused to sandboxed commands", async () => {
  const out = await sandboxed(`curl -sS -m 10 http://127.0.0.1:${receiver.port}/hook; echo; curl -sS -m 10 --proxytunnel http://127.0.0.1:${receiver.port}/tunnel 2>&1`);
  expect(out).toContain('refused: loopback address 127.0.0.1');
  expect(out).toMatch(/CONNECT tunnel failed, response 403/);
  expect(out).not.toContain('webhook receiver');
  expect(receiver.hits).toEqual([]);
});

test('without the proxy nothing inside the sandbox can connect, not even to the allowed destination', async () => {
  const out = await sandboxed(
    [
      `curl -sS -m 5 --noproxy '*' http://127.0.0.1:${site.port}/direct 2>&1; echo "curl=$?"`,
      `(exec 3<>/dev/tcp/127.0.0.1/${internal.port}) 2>/dev/null && echo tcp=open || echo tcp=closed`,
    ].join('; '),
  );
  expect(out).toMatch(/curl=(7|28)/);
  expect(out).toContain('tcp=closed');
  expect(site.hits).toEqual([]);
  expect(internal.hits).toEqual([]);
});

test('with the default network = "none" the sandbox has no proxy and no way out', async () => {
  const out = await sandboxed(`echo "proxy=[$HTTPS_PROXY]"; curl -sS -m 5 http://127.0.0.1:${site.port}/none 2>&1; echo "curl=$?"`, { ...tools, network: 'none' });
  expect(out).toContain('proxy=[]');
  expect(out).toMatch(/curl=(7|28)/);
  expect(site.hits).toEqual([]);
});

test('the forwarder cannot be replaced from inside the sandbox', async () => {
  const out = await sandboxed(`test -f /run/spacebot-egress/forwarder.mjs && echo present; echo 'process.exit(0)' > /run/spacebot-egress/forwarder.mjs 2>/dev/null && echo replaced || echo read-only`);
  expect(out).toMatch(/^present$/m);
  expect(out).toMatch(/^read-only$/m);
  expect(out).not.toContain('replaced');
});
