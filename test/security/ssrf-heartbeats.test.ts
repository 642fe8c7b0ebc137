import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Issue 14, finding 5: SSRF through heartbeat webhooks. Real traffic only to 127.0.0.1: "site"
 * plays a public webhook receiver (allowed by `[network] allow` with its port), "internal" an
 * internal service on another loopback port that must never be reached. Other ranges (169.254.169.254,
 * 10/8) appear only where nothing connects even without the fix: creating a heartbeat, not running it.
 */

const hbPath = '/v1/agents/main/heartbeats';
const NEVER = '0 0 1 1 *';

interface Listening {
  server: Server;
  port: number;
  hits: string[];
}

function listen(handler: (path: string, res: ServerResponse) => void): Promise<Listening> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => handler(req.url ?? '/', res));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, hits })));
}

let env: TestWorkflowEnvironment;
let h: Harness;
let site: Listening;
let internal: Listening;

beforeAll(async () => {
  internal = await listen((_path, res) => res.writeHead(404).end('not here'));
  site = await listen((path, res) => {
    if (path === '/to-internal') res.writeHead(302, { location: `http://127.0.0.1:${internal.port}/admin` }).end();
    else if (path === '/missing') res.writeHead(404).end('no such hook');
    else res.writeHead(204).end();
  });
  env = await startTestTemporal();
  h = await createHarness({ env, toml: `\n[network]\nallow = ["127.0.0.1:${site.port}"]\n` });
});
afterAll(async () => {
  await h?.close();
  await env?.teardown();
  site?.server.close();
  internal?.server.close();
});
beforeEach(() => {
  h.fake.reset();
  h.fake.script(() => ({ text: 'report' }));
  site.hits.length = 0;
  internal.hits.length = 0;
});

/** Creates a webhook heartbeat, triggers one run and returns the heartbeat as the API shows it afterwards. */
async function runWebhook(id: string, url: string): Promise<Record<string, unknown>> {
  const created = await h.request('POST', hbPath, { id, prompt: 'Report', cron: NEVER, target: { kind: 'webhook', url } });
  expect(created.status).toBe(201);
  expect((await h.request('POST', `${hbPath}/${id}/trigger`)).status).toBe(202);
  return eventually(
    async () => {
      const view = await h.request('GET', `${hbPath}/${id}`);
      return (view.body.consecutiveFailures as number) >= 1 || view.body.lastError ? view.body : undefined;
    },
    60_000,
    `a failed run of ${id}`,
  );
}

test.each([
  ['loopback', () => `http://127.0.0.1:${internal.port}/admin`, /webhook URL refused: loopback address 127\.0\.0\.1/],
  ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/', /webhook URL refused: cloud metadata address/],
  ['IPv4-mapped IPv6 loopback', () => `http://[::ffff:127.0.0.1]:${internal.port}/`, /webhook URL refused: IPv4-mapped IPv6 address/],
  ['a private address', () => 'http://10.0.0.5/hook', /webhook URL refused: private address/],
])('a webhook target at %s is refused with a 400 when created', async (_name, url, message) => {
  const res = await h.request('POST', hbPath, { id: 'literal', prompt: 'Report', cron: NEVER, target: { kind: 'webhook', url: url() } });
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({ field: 'target.url', message: expect.stringMatching(message) });
  expect((await h.request('GET', `${hbPath}/literal`)).status).toBe(404);
  // Changing an existing heartbeat's target is checked the same way.
  await h.request('POST', hbPath, { id: 'patched', prompt: 'Report', cron: NEVER });
  const patched = await h.request('PATCH', `${hbPath}/patched`, { target: { kind: 'webhook', url: url() } });
  expect(patched.status).toBe(400);
  expect(patched.body.field).toBe('target.url');
  await h.request('DELETE', `${hbPath}/patched`);
});

test('a hostname that resolves to 127.0.0.1 is refused at send time, and the internal port sees nothing', async () => {
  const view = await runWebhook('by-name', `http://localhost:${internal.port}/admin`);
  expect(view.lastError).toMatch(/^webhook refused: localhost resolves to a loopback address/);
  expect(internal.hits).toEqual([]);
});

test('a redirect to loopback is not followed', async () => {
  const view = await runWebhook('redirect', `http://127.0.0.1:${site.port}/to-internal`);
  expect(view.lastError).toMatch(/^webhook refused: loopback address 127\.0\.0\.1/);
  expect(site.hits).toEqual(['POST /to-internal']);
  expect(internal.hits).toEqual([]);
});

test('the stored error of a webhook that answers an error says "failed", not the remote status', async () => {
  const view = await runWebhook('missing', `http://127.0.0.1:${site.port}/missing`);
  expect(view.lastError).toBe(`webhook failed: 127.0.0.1:${site.port} did not accept the delivery`);
  expect(String(view.lastError)).not.toMatch(/404|answered/);
  expect(site.hits.length).toBeGreaterThanOrEqual(1);
});

test('an allowed webhook still receives the result', async () => {
  const created = await h.request('POST', hbPath, { id: 'ok-hook', prompt: 'Report', cron: NEVER, target: { kind: 'webhook', url: `http://127.0.0.1:${site.port}/hook` } });
  expect(created.status).toBe(201);
  await h.request('POST', `${hbPath}/ok-hook/trigger`);
  await eventually(async () => (site.hits.includes('POST /hook') ? true : undefined), 30_000, 'the webhook POST');
});
