import net from 'node:net';

/**
 * Free ports for a server a test starts on fixed ports. They are drawn below Linux's ephemeral range
 * (32768+), so nothing binding port 0 meanwhile (PGlite, fake servers, other test files running in
 * parallel) can be handed the same number before the test's server binds it.
 */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!ports.has(port) && (await canListen(port))) ports.add(port);
  }
  return [...ports];
}

export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
