import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { apiGuildCreate, apiUser, snowflake, type FakeGuild, type FakeUser } from './objects.js';

/**
 * The Discord gateway protocol (v10, JSON, no compression) on a loopback WebSocket: HELLO on connect,
 * IDENTIFY → READY (session_id, resume_gateway_url) + one GUILD_CREATE per guild, heartbeats acked,
 * dispatches numbered per session, and RESUME replaying every dispatch after the client's sequence
 * before RESUMED, as Discord does after a dropped connection.
 */

const Op = { Dispatch: 0, Heartbeat: 1, Identify: 2, Resume: 6, Reconnect: 7, InvalidSession: 9, Hello: 10, HeartbeatAck: 11 } as const;

interface Dispatch {
  s: number;
  t: string;
  d: unknown;
}

interface Session {
  id: string;
  seq: number;
  intents: number;
  /** Every dispatch of the session, for replay on RESUME. */
  log: Dispatch[];
  socket: WebSocket | null;
}

export interface GatewayStats {
  connections: number;
  identifies: number;
  resumes: number;
  heartbeats: number;
  /** The query string of each connection (v, encoding, compress). */
  queries: string[];
}

export class FakeGateway {
  readonly stats: GatewayStats = { connections: 0, identifies: 0, resumes: 0, heartbeats: 0, queries: [] };
  private readonly wss: WebSocketServer;
  private current: Session | null = null;
  private readonly sessions = new Map<string, Session>();

  constructor(
    server: Server,
    private readonly options: { token: () => string; bot: FakeUser; guilds: FakeGuild[]; url: () => string; heartbeatIntervalMs: number },
  ) {
    this.wss = new WebSocketServer({ server });
    this.wss.on('connection', (socket, request) => this.onConnection(socket, request.url ?? ''));
  }

  /** Intents of the live session (0 before IDENTIFY). */
  get intents(): number {
    return this.current?.intents ?? 0;
  }

  get connected(): boolean {
    return this.current?.socket != null;
  }

  /** Sends a dispatch to the current session, or keeps it for replay when the socket is down. */
  dispatch(t: string, d: unknown): void {
    const session = this.current;
    if (!session) throw new Error('fake discord: no gateway session yet; start the client first');
    const event = { s: ++session.seq, t, d };
    session.log.push(event);
    session.socket?.send(JSON.stringify({ op: Op.Dispatch, ...event }));
  }

  /** Cuts the connection without a close frame (as a network failure does); the session stays resumable. */
  dropConnection(): void {
    const socket = this.current?.socket;
    if (!socket) throw new Error('fake discord: no gateway connection to drop');
    this.current!.socket = null;
    socket.terminate();
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(socket: WebSocket, url: string): void {
    this.stats.connections++;
    this.stats.queries.push(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    let session: Session | null = null;
    const send = (payload: Record<string, unknown>) => socket.send(JSON.stringify({ s: null, t: null, ...payload }));
    send({ op: Op.Hello, d: { heartbeat_interval: this.options.heartbeatIntervalMs } });

    socket.on('message', (raw) => {
      let payload: { op: number; d: Record<string, unknown> | number | null };
      try {
        payload = JSON.parse(String(raw)) as typeof payload;
      } catch {
        socket.close(4002, 'Error while decoding payload.');
        return;
      }
      const d = (payload.d ?? {}) as Record<string, unknown>;
      switch (payload.op) {
        case Op.Heartbeat:
          this.stats.heartbeats++;
          send({ op: Op.HeartbeatAck });
          return;
        case Op.Identify: {
          if (session) return socket.close(4005, 'Already authenticated.');
          if (d.token !== this.options.token()) return socket.close(4004, 'Authentication failed.');
          this.stats.identifies++;
          session = { id: snowflake(), seq: 0, intents: Number(d.intents ?? 0), log: [], socket };
          this.sessions.set(session.id, session);
          this.current = session;
          this.dispatch('READY', {
            v: 10,
            user_settings: {},
            user: { ...apiUser(this.options.bot), verified: true, mfa_enabled: false, email: null },
            guilds: this.options.guilds.map((g) => ({ id: g.id, unavailable: true })),
            session_id: session.id,
            session_type: 'normal',
            resume_gateway_url: this.options.url(),
            shard: [0, 1],
            application: { id: this.options.bot.id, flags: 0 },
            private_channels: [],
            relationships: [],
            presences: [],
            geo_ordered_rtc_regions: [],
            guild_join_requests: [],
          });
          for (const guild of this.options.guilds) this.dispatch('GUILD_CREATE', apiGuildCreate(guild, this.options.bot));
          return;
        }
        case Op.Resume: {
          const resumed = this.sessions.get(String(d.session_id));
          if (!resumed || d.token !== this.options.token()) {
            send({ op: Op.InvalidSession, d: false });
            return;
          }
          this.stats.resumes++;
          session = resumed;
          resumed.socket = socket;
          this.current = resumed;
          const after = Number(d.seq ?? 0);
          for (const event of resumed.log) if (event.s > after) socket.send(JSON.stringify({ op: Op.Dispatch, ...event }));
          this.dispatch('RESUMED', {});
          return;
        }
        default:
          return;
      }
    });
    socket.on('close', () => {
      if (session && session.socket === socket) session.socket = null;
    });
  }
}
