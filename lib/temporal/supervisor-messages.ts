/**
 * What the dev-server supervisor (dev-server-supervisor.ts) tells its parent over the IPC channel:
 * the server's pid once it runs, or why it could not be started at all.
 */
export type SupervisorMessage = { type: 'spawned'; pid: number } | { type: 'spawn-error'; message: string };

export function isSupervisorMessage(value: unknown): value is SupervisorMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Record<string, unknown>;
  return (
    (message.type === 'spawned' && typeof message.pid === 'number') ||
    (message.type === 'spawn-error' && typeof message.message === 'string')
  );
}
