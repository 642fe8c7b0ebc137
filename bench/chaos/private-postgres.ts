import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ManagedProcess } from './managed-process.js';

/**
 * A private PostgreSQL cluster for the chaos run and the soak bench: initdb'd into a temp dir, run by
 * the `postgres` OS user (initdb and postgres refuse root) on its own port, so it can be crashed and
 * restarted without touching the machine's shared server. The machine's binaries carry pgvector.
 */
export const PG_BIN = process.env.CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PG_USER = 'postgres';

export interface PrivatePostgres {
  url: string;
  port: number;
  /** Immediate shutdown (SIGQUIT to the postmaster: every connection cut, crash recovery at the next start), then a start. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  killNow(): void;
}

function osUser(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** `runuser -u postgres` when we are root; the binary itself otherwise. */
function asPostgres(binary: string, args: string[]): { command: string; args: string[] } {
  const root = process.getuid?.() === 0;
  return root ? { command: 'runuser', args: ['-u', PG_USER, '--', path.join(PG_BIN, binary), ...args] } : { command: path.join(PG_BIN, binary), args };
}

export async function startPrivatePostgres(dir: string, port: number): Promise<PrivatePostgres> {
  if (!existsSync(path.join(PG_BIN, 'postgres'))) throw new Error(`no PostgreSQL binaries in ${PG_BIN} (set CHAOS_PG_BIN)`);
  mkdirSync(dir, { recursive: true });
  const dataDir = path.join(dir, 'pgdata');
  const socketDir = path.join(dir, 'pgsock');
  mkdirSync(socketDir, { recursive: true });
  if (process.getuid?.() === 0) {
    const { uid, gid } = osUser(PG_USER);
    chownSync(dir, uid, gid);
    chownSync(socketDir, uid, gid);
    // The run's temp dir (mkdtemp, 0700) must let the postgres user through; never loosen /tmp itself.
    if (path.dirname(dir) !== os.tmpdir()) chmodSync(path.dirname(dir), 0o755);
  }
  const init = asPostgres('initdb', ['-D', dataDir, '-A', 'trust', '-U', PG_USER, '--no-sync', '-E', 'UTF8']);
  execFileSync(init.command, init.args, { stdio: 'pipe' });

  const server = asPostgres('postgres', [
    '-D', dataDir,
    '-p', String(port),
    '-k', socketDir,
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'max_connections=300',
    // Crashes here are process crashes, not power cuts: the page cache survives, so fsync buys nothing.
    // synchronous_commit stays on: with it off, a commit already acknowledged can be lost by the
    // immediate shutdown of the restart (the WAL still in shared memory), a loss the harness would cause.
    '-c', 'fsync=off',
  ]);
  const proc = new ManagedProcess({
    name: 'postgres',
    command: server.command,
    args: server.args,
    env: { PATH: process.env.PATH, LANG: 'C.UTF-8' },
    cwd: dir,
    readyText: 'database system is ready to accept connections',
    logFile: path.join(dir, 'postgres.log'),
  });
  const url = `postgres://${PG_USER}@127.0.0.1:${port}/postgres`;
  await proc.start();
  await waitForConnections(url);

  const postmasterPid = (): number | undefined => {
    try {
      return Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  };

  return {
    url,
    port,
    async restart() {
      const pid = postmasterPid();
      if (pid) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          // Already gone.
        }
      }
      // runuser leaves once the postmaster did.
      for (let i = 0; i < 300 && proc.running(); i++) await sleep(100);
      if (proc.running()) await proc.kill9();
      await proc.start();
      await waitForConnections(url);
    },
    async stop() {
      const pid = postmasterPid();
      if (pid && proc.running()) {
        try {
          // Fast shutdown: the postmaster ends its backends itself.
          process.kill(pid, 'SIGINT');
        } catch {
          // Already gone.
        }
        for (let i = 0; i < 150 && proc.running(); i++) await sleep(100);
      }
      await proc.kill9();
      proc.close();
    },
    killNow() {
      const pid = postmasterPid();
      if (pid) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          // Already gone.
        }
      }
      proc.killNow();
    },
  };
}

async function waitForConnections(url: string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (err) {
      last = err;
      await client.end().catch(() => undefined);
      await sleep(200);
    }
  }
  throw new Error(`the private PostgreSQL at ${url} does not accept connections: ${(last as Error)?.message}`);
}
