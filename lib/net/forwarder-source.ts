/**
 * The forwarder that runs INSIDE a worker's sandbox when `[tools] network = "guarded"`: the sandbox
 * has its own network namespace (only its own loopback), so programs there reach the egress proxy
 * through this relay from 127.0.0.1:<port> (inside) to the proxy's Unix socket, bound in. It only
 * moves bytes; every decision is the proxy's, outside the sandbox where the model cannot touch it.
 *
 * Kept as the text of a standalone ES module, written next to the proxy's socket when the proxy
 * starts (lib/net/egress-proxy.ts), so it exists in the compiled image as well as under tsx.
 * Arguments: <unix socket> <port> <ready file>; the ready file is created once it listens.
 */
export const FORWARDER_SOURCE = `// Spacebot sandbox egress forwarder (generated; see lib/net/forwarder-source.ts).
import net from 'node:net';
import { writeFileSync } from 'node:fs';

const [socketPath, portText, readyFile] = process.argv.slice(2);
const server = net.createServer((client) => {
  const upstream = net.connect(socketPath);
  const drop = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', drop);
  upstream.on('error', drop);
  client.pipe(upstream);
  upstream.pipe(client);
});
server.maxConnections = 64;
server.on('error', (err) => {
  process.stderr.write('egress forwarder: ' + err.message + '\\n');
  process.exit(1);
});
server.listen(Number(portText), '127.0.0.1', () => {
  if (readyFile) writeFileSync(readyFile, '');
});
`;
