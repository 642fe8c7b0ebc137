import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAllowList } from '../../lib/net/allow-list.js';
import { FetchFailedError, UrlRefusedError } from '../../lib/net/errors.js';
import { guardedFetch } from '../../lib/net/guarded-fetch.js';
import { checkUrl, type GuardPolicy, type Resolver } from '../../lib/net/url-guard.js';

// Real traffic only to 127.0.0.1: "allowed" plays a public site (on the allow list with its port),
// "internal" an internal service that must never be reached. Other ranges go only through checkUrl,
// which never connects, so not even a broken guard could send a packet to them.

interface Hit {
  method: string;
  url: string;
  host: string;
  body: string;
}

function startServer(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body });
      handler(req, body, res);
    });
  });
  return new Promise<{ server: Server; port: number; hits: Hit[] }>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, hits })),
  );
}

let allowed: Awaited<ReturnType<typeof startServer>>;
let internal: Awaited<ReturnType<typeof startServer>>;
let policy: GuardPolicy;

beforeAll(async () => {
  internal = await startServer((_req, _body, res) => res.writeHead(404).end('internal secret'));
  allowed = await startServer((req, _body, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/to-internal') res.writeHead(302, { location: `http://127.0.0.1:${internal.port}/admin` }).end();
    else if (u.pathname === '/to-localhost') res.writeHead(307, { location: `http://localhost:${internal.port}/admin` }).end();
    else if (u.pathname === '/to-mapped') res.writeHead(301, { location: `http://[::ffff:127.0.0.1]:${internal.port}/` }).end();
    else if (u.pathname === '/loop') res.writeHead(302, { location: `/loop?n=${Number(u.searchParams.get('n') ?? 0) + 1}` }).end();
    else if (u.pathname === '/see-other') res.writeHead(303, { location: '/done' }).end();
    else if (u.pathname === '/big') res.writeHead(200).end('x'.repeat(5000));
    else if (u.pathname === '/slow') setTimeout(() => res.writeHead(200).end('late'), 3000).unref();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${u.pathname}`);
  });
  policy = { allow: parseAllowList([`127.0.0.1:${allowed.port}`]) };
});
afterAll(() => {
  allowed.server.closeAllConnections();
  allowed.server.close();
  internal.server.close();
});
beforeEach(() => {
  allowed.hits.length = 0;
  internal.hits.length = 0;
});

test('an allowed destination answers', async () => {
  const res = await guardedFetch(`http://127.0.0.1:${allowed.port}/page`, { policy });
  expect(res.status).toBe(200);
  expect(res.body.toString()).toBe('hello from /page');
});

test.each([
  ['loopback on a port that is not allowed', () => `http://127.0.0.1:${internal.port}/admin`, /refused: loopback address/],
  ['a hostname that resolves to 127.0.0.1', () => `http://localhost:${internal.port}/admin`, /refused: localhost resolves to a loopback address/],
  ['IPv4-mapped IPv6 loopback', () => `http://[::ffff:127.0.0.1]:${internal.port}/`, /refused: IPv4-mapped/],
  ['decimal-encoded loopback', () => `http://2130706433:${internal.port}/`, /refused: loopback/],
  ['credentials in the URL', () => `http://user:pw@127.0.0.1:${allowed.port}/`, /refused: the URL carries credentials/],
])('refused: %s', async (_name, url, message) => {
  await expect(guardedFetch(url(), { policy })).rejects.toThrow(UrlRefusedError);
  await expect(guardedFetch(url(), { policy })).rejects.toThrow(message);
  expect(internal.hits).toEqual([]);
  expect(allowed.hits).toEqual([]);
});

test.each([
  ['cloud metadata', 'http://169.254.169.254/latest/meta-data/', /refused: cloud metadata/],
  ['IPv4-mapped metadata', 'http://[::ffff:169.254.169.254]/', /refused: IPv4-mapped/],
  ['a private address', 'http://10.0.0.1/', /refused: private address/],
  ['CGNAT', 'http://100.64.1.1/', /refused: carrier-grade NAT/],
  ['hex-encoded private address', 'http://0xa000001/', /refused: private address/],
  ['IPv6 unique local', 'http://[fd00::1]/', /refused: unique local/],
  ['IPv6 link-local', 'http://[fe80::1]/', /refused: link-local/],
  ['NAT64 loopback', 'http://[64:ff9b::7f00:1]/', /refused: NAT64/],
  ['a file URL', 'file:///etc/passwd', /refused: only http and https/],
  ['a gopher URL', 'gopher://127.0.0.1:25/', /refused: only http and https/],
])('the guard refuses %s (checked without connecting)', async (_name, url, message) => {
  await expect(checkUrl(url, policy)).rejects.toThrow(message);
});

test.each([
  ['loopback', '/to-internal', /refused: loopback address/],
  ['a name that resolves to loopback', '/to-localhost', /refused: localhost resolves to a loopback address/],
  ['IPv4-mapped loopback', '/to-mapped', /refused: IPv4-mapped/],
])('a redirect to %s is refused', async (_name, path, message) => {
  await expect(guardedFetch(`http://127.0.0.1:${allowed.port}${path}`, { policy })).rejects.toThrow(message);
  expect(allowed.hits).toHaveLength(1);
  expect(internal.hits).toEqual([]);
});

test('at most 3 redirects are followed', async () => {
  await expect(guardedFetch(`http://127.0.0.1:${allowed.port}/loop`, { policy })).rejects.toThrow(new FetchFailedError('more than 3 redirects'));
  expect(allowed.hits.map((h) => h.url)).toEqual(['/loop', '/loop?n=1', '/loop?n=2', '/loop?n=3']);
  const none = guardedFetch(`http://127.0.0.1:${allowed.port}/loop`, { policy, maxRedirects: 0 });
  await expect(none).rejects.toThrow(/more than 0 redirects/);
});

test('a 303 after a POST continues as a GET without the body', async () => {
  const res = await guardedFetch(`http://127.0.0.1:${allowed.port}/see-other`, { policy, method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
  expect(res).toMatchObject({ status: 200, redirects: 1, url: `http://127.0.0.1:${allowed.port}/done` });
  expect(allowed.hits.map((h) => [h.method, h.url, h.body])).toEqual([
    ['POST', '/see-other', '{"a":1}'],
    ['GET', '/done', ''],
  ]);
});

test('a hostname is resolved once and the connection goes to the checked address (no DNS rebinding)', async () => {
  const answers = ['127.0.0.1', '127.0.0.2'];
  const lookups: string[] = [];
  // A hostile DNS: first an allowed address, then (for any second lookup) another one.
  const resolve: Resolver = async (hostname) => {
    lookups.push(hostname);
    return [{ address: answers[Math.min(lookups.length - 1, 1)]!, family: 4 }];
  };
  const res = await guardedFetch(`http://rebind.test:${allowed.port}/pinned`, { policy: { ...policy, resolve } });
  expect(res.body.toString()).toBe('hello from /pinned');
  expect(lookups).toEqual(['rebind.test']);
  expect(allowed.hits).toEqual([expect.objectContaining({ host: `rebind.test:${allowed.port}` })]);
});

test('a name with any forbidden address is refused, even next to a public one', async () => {
  const resolve: Resolver = async () => [
    { address: '93.184.216.34', family: 4 },
    { address: '10.0.0.7', family: 4 },
  ];
  await expect(checkUrl('http://mixed.test/', { ...policy, resolve })).rejects.toThrow('refused: mixed.test resolves to a private address (10.0.0.0/8)');
});

test('the response size and the time are capped', async () => {
  await expect(guardedFetch(`http://127.0.0.1:${allowed.port}/big`, { policy, maxResponseBytes: 1000 })).rejects.toThrow(/failed: the response from 127.0.0.1 is larger than 1000 bytes/);
  await expect(guardedFetch(`http://127.0.0.1:${allowed.port}/slow`, { policy, timeoutMs: 300 })).rejects.toThrow('failed: no answer within 300 ms');
});

test('a resolver that never answers is cut off by the deadline', async () => {
  const resolve: Resolver = () => new Promise(() => undefined);
  await expect(guardedFetch('http://hanging.test/', { policy: { ...policy, resolve }, timeoutMs: 200 })).rejects.toThrow('failed: no answer within 200 ms');
});
