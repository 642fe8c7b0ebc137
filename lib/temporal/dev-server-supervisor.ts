/**
 * Watchdog process between Spacebot and `temporal server start-dev`: `node dev-server-supervisor.js
 * <temporal-cli> <args…>`, started by dev-server.ts with an IPC channel and in its own process group.
 *
 * WHY it exists: the dev server must never outlive Spacebot, not even when Spacebot is SIGKILLed
 * (issue 13: an orphaned server kept its ports and the next start failed). A SIGKILLed process runs
 * no 'exit' hook, and Node cannot set PR_SET_PDEATHSIG on a child. The kernel closes the IPC socket
 * of a dead process, though, whatever killed it: the supervisor sees 'disconnect' and kills its
 * process group (itself and the server) at once. SIGKILL is safe for the server: SQLite commits are
 * atomic, and the next start finds the data as it was.
 *
 * Only node builtins: it starts on every `npm start` and must be quick and small.
 */
import { spawn } from 'node:child_process';
import type { SupervisorMessage } from './supervisor-messages.js';

const [cliPath, ...args] = process.argv.slice(2);

if (!cliPath || !process.send || !process.connected) {
  // Run by hand, or the parent already died while this process was starting.
  console.error('dev-server-supervisor: must be started by Spacebot with an IPC channel and the temporal CLI path');
  process.exit(2);
}

const server = spawn(cliPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });

function send(message: SupervisorMessage, then?: () => void): void {
  if (!process.connected) return then?.();
  process.send?.(message, undefined, {}, () => then?.());
}

function killEverything(): never {
  try {
    // dev-server.ts spawns this process detached, so its process group holds only us and the server
    // (and anything the server forked).
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    server.kill('SIGKILL');
  }
  process.exit(1);
}

server.once('spawn', () => {
  if (server.pid !== undefined) send({ type: 'spawned', pid: server.pid });
});
server.once('error', (err) => {
  // Without a pid the binary never ran (ENOENT, EACCES); other errors are failed kills, reported by exit.
  if (server.pid === undefined) send({ type: 'spawn-error', message: err.message }, () => process.exit(127));
});

/** Ends this process the way the server ended, so the parent's exit report names the server's code or signal. */
server.once('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});

process.once('disconnect', killEverything);

// A stop request reaches only this process: hand it on and report the server's exit once it comes.
// SIGKILL, the parent's escalation, goes to the whole group and needs no help.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) server.kill(signal);
  });
}
