import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ApiContext } from '../../api/context.js';
import { registerMemoryRoutes } from '../../api/routes/memories.js';
import { buildApi } from '../../api/server.js';
import type { ChannelClient } from '../../lib/channel/channel-client.js';
import { loadConfig } from '../../lib/config/load.js';
import { createLogger } from '../../lib/logger.js';
import { backends, createAgent, openTestDb, removeAgent, TableEmbedder, type TestDb } from './db.js';

/** The parts of response bodies these tests read. */
interface ApiBody {
  error?: string;
  message?: string;
  field?: string;
  status?: string;
  memory: { id: string };
  memories: { id: string }[];
  results: { memory: { id: string }; signals: Record<string, unknown> }[];
  signalsUsed: string[];
  edges: unknown[];
}

const TOKEN = 'memory-api-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

describe.each(backends)('memory API on $name', (backend) => {
  let t: TestDb;
  let agent: string;
  let dir: string;
  let api: FastifyInstance;
  let withEmbedder: FastifyInstance;
  let base: string;
  const urls = new Map<FastifyInstance, string>();

  beforeAll(async () => {
    t = await openTestDb(backend);
    agent = await createAgent(t.db, 'memapi');
    dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-memory-api-'));
    writeFileSync(path.join(dir, 'spacebot.toml'), `[server]\nbody_limit_bytes = 70000\n\n[[agents]]\nid = "${agent}"\nname = "Mem"\n`);
    const config = loadConfig({ env: { SPACEBOT_DATA_DIR: path.join(dir, 'data') }, cwd: dir });
    // Memory routes use config, db and logger; the Temporal side is never reached here.
    const ctx: ApiContext = {
      config,
      temporalAddress: '127.0.0.1:1',
      db: t.db,
      temporal: {} as Client,
      channels: {} as ChannelClient,
      logger: createLogger('test', 'silent'),
      apiToken: TOKEN,
    };
    // The real server (no embedder wired), and a bare instance with a test embedder.
    api = buildApi(ctx);
    withEmbedder = Fastify();
    registerMemoryRoutes(withEmbedder, ctx, { embedder: new TableEmbedder() });
    // fastify's inject() needs require(esm) under jest's VM; a real loopback socket does not.
    urls.set(api, await api.listen({ host: '127.0.0.1', port: 0 }));
    urls.set(withEmbedder, await withEmbedder.listen({ host: '127.0.0.1', port: 0 }));
    base = `/v1/agents/${agent}/memories`;
  });
  afterAll(async () => {
    await api?.close();
    await withEmbedder?.close();
    if (t) {
      await removeAgent(t.db, agent);
      await t.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) => {
    const res = await fetch(`${urls.get(app)}${url}`, {
      method,
      headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as ApiBody) : ({} as ApiBody) };
  };

  it('needs the bearer token', async () => {
    const res = await fetch(`${urls.get(api)}${base}`);
    expect(res.status).toBe(401);
  });

  it('creates, gets, lists, searches, shows edges and deletes', async () => {
    const first = await call(api, 'POST', base, { content: 'The user waters the orchid on mondays', type: 'todo', idempotencyKey: 'api-1' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: 'created', memory: { type: 'todo', importance: 0.8, scope: { kind: 'agent' }, hasEmbedding: false } });
    const id = first.body.memory.id;
    const again = await call(api, 'POST', base, { content: 'The user waters the orchid on mondays', type: 'todo', idempotencyKey: 'api-1' });
    expect(again).toMatchObject({ status: 200, body: { status: 'duplicate', memory: { id } } });

    const linked = await call(api, 'POST', base, {
      content: 'Bought a humidifier',
      type: 'event',
      scope: { kind: 'user', id: 'alice' },
      associations: [{ id, type: 'result_of', weight: 0.9 }],
    });
    expect(linked.status).toBe(201);
    const linkedId = linked.body.memory.id;

    expect(await call(api, 'GET', `${base}/${id}`)).toMatchObject({ status: 200, body: { memory: { id, content: 'The user waters the orchid on mondays' } } });
    const list = await call(api, 'GET', `${base}?type=todo&limit=10`);
    expect(list.body.memories.map((m) => m.id)).toEqual([id]);
    const scoped = await call(api, 'GET', `${base}?scope=user:alice`);
    expect(scoped.body.memories.map((m) => m.id)).toEqual([linkedId]);

    // No embedder on the real server: text + graph; alice sees her memory through the edge, others do not.
    const search = await call(api, 'GET', `${base}/search?q=orchid&user=alice`);
    expect(search.status).toBe(200);
    expect(search.body.signalsUsed).toEqual(['text', 'graph']);
    expect(search.body.results.map((r) => r.memory.id)).toEqual([id, linkedId]);
    expect(search.body.results[1]?.signals.graph).toMatchObject({ edge: 'result_of', hops: 1 });
    const anonymous = await call(api, 'GET', `${base}/search?q=orchid`);
    expect(anonymous.body.results.map((r) => r.memory.id)).toEqual([id]);
    const important = await call(api, 'GET', `${base}/search?mode=important&type=todo,event&user=alice`);
    expect(important.body.results.map((r) => r.memory.id)).toEqual([id, linkedId]);

    const edges = await call(api, 'GET', `${base}/${id}/edges`);
    expect(edges.body.edges).toEqual([expect.objectContaining({ fromId: linkedId, toId: id, type: 'result_of', weight: 0.9 })]);

    expect((await call(api, 'DELETE', `${base}/${id}`)).status).toBe(204);
    expect((await call(api, 'GET', `${base}/${id}`)).status).toBe(404);
    expect((await call(api, 'DELETE', `${base}/${id}`)).status).toBe(404);
    expect((await call(api, 'GET', `${base}/${linkedId}/edges`)).body.edges).toEqual([]);
  });

  it('uses the embedder passed to the route registration', async () => {
    const created = await call(withEmbedder, 'POST', base, { content: 'Vectors for the garden plan', type: 'goal' });
    expect(created).toMatchObject({ status: 201, body: { memory: { hasEmbedding: true, importance: 0.9 } } });
    const search = await call(withEmbedder, 'GET', `${base}/search?q=${encodeURIComponent('Vectors for the garden plan')}`);
    expect(search.body.signalsUsed).toEqual(['vector', 'text', 'graph']);
    expect(search.body.results[0]).toMatchObject({ memory: { id: created.body.memory.id }, signals: { vector: { rank: 1 }, text: { rank: 1 } } });
  });

  test.each([
    [{}, 'content', /body\.content/],
    [{ content: '  ', type: 'fact' }, 'content', /must not be empty/],
    [{ content: 'x', type: 'rumour' }, 'type', /body\.type/],
    [{ content: 'x', type: 'fact', importance: 2 }, 'importance', /body\.importance/],
    [{ content: 'x', type: 'fact', scope: { kind: 'user' } }, 'scope.id', /needs an id/],
    [{ content: 'x', type: 'fact', associations: [{ id: 'nope', type: 'related_to' }] }, 'associations.0.id', /body\.associations\.0\.id/],
    [{ content: 'x', type: 'fact', associations: [{ id: '00000000-0000-4000-8000-000000000000', type: 'related_to' }] }, 'associations.0.id', /no memory/],
    [{ content: 'x'.repeat(50 * 1024 + 1), type: 'fact' }, 'content', /51200 bytes/],
    [{ content: 'x', type: 'fact', colour: 'blue' }, undefined, /unknown field colour/],
  ])('a bad body %# is a 400 naming the field', async (body, field, message) => {
    const res = await call(api, 'POST', base, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    if (field) expect(res.body.field).toBe(field);
    expect(String(res.body.message)).toMatch(message);
  });

  it('answers 400 for bad queries, 413 past the body limit, 404 for unknown agents and memories', async () => {
    expect((await call(api, 'GET', `${base}/search`)).body).toMatchObject({ error: 'invalid_request', field: 'q' });
    expect((await call(api, 'GET', `${base}/search?q=x&mode=psychic`)).body).toMatchObject({ field: 'mode' });
    expect((await call(api, 'GET', `${base}?scope=planet:earth`)).body).toMatchObject({ field: 'scope' });
    expect((await call(api, 'GET', `${base}?cursor=zzz`)).body).toMatchObject({ error: 'invalid_request', field: 'cursor' });
    expect((await call(api, 'POST', base, { content: 'x'.repeat(80_000), type: 'fact' })).status).toBe(413);
    for (const [method, url] of [
      ['GET', '/v1/agents/nobody/memories'],
      ['GET', '/v1/agents/nobody/memories/search?q=x'],
      ['POST', '/v1/agents/nobody/memories'],
      ['GET', `/v1/agents/nobody/memories/00000000-0000-4000-8000-000000000000`],
    ] as const) {
      const res = await call(api, method, url, method === 'POST' ? { content: 'x', type: 'fact' } : undefined);
      expect(res).toMatchObject({ status: 404, body: { error: 'not_found', field: 'agent' } });
    }
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expect(await call(api, 'GET', `${base}/${id}`)).toMatchObject({ status: 404, body: { field: 'id' } });
      expect((await call(api, 'GET', `${base}/${id}/edges`)).status).toBe(404);
    }
  });
});
