import type { SpacebotConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import type { SandboxExtras } from '../sandbox/policy.js';
import { egressPolicy } from './config.js';
import { EgressProxy } from './egress-proxy.js';

/**
 * What a worker's sandbox gets with `[tools] network = "guarded"` (lib/sandbox/policy.ts stays
 * `--unshare-net` regardless): the proxy's Unix socket, node and the forwarder bound in, a prelude
 * that starts the forwarder on the sandbox's own 127.0.0.1 and waits until it listens, and the proxy
 * variables curl, pip, npm, git and most HTTP clients read. Without the forwarder nothing inside can
 * connect anywhere: the namespace has no route out, only its own loopback.
 */

/** Where things appear inside the sandbox. */
export const SANDBOX_EGRESS_DIR = '/run/spacebot-egress';
/** The forwarder's port on the sandbox's own loopback (its own namespace: no clash with the host). */
export const SANDBOX_PROXY_PORT = 3128;

export function sandboxEgressExtras(proxy: Pick<EgressProxy, 'socketPath' | 'forwarderPath'>, nodePath: string = process.execPath): SandboxExtras {
  const socket = `${SANDBOX_EGRESS_DIR}/egress.sock`;
  const forwarder = `${SANDBOX_EGRESS_DIR}/forwarder.mjs`;
  const node = `${SANDBOX_EGRESS_DIR}/node`;
  const ready = '/tmp/.spacebot-egress-ready';
  const proxyUrl = `http://127.0.0.1:${SANDBOX_PROXY_PORT}`;
  return {
    binds: [
      // Writable only in the mount sense: connect() on a socket needs write permission on it.
      { source: proxy.socketPath, dest: socket, writable: true },
      { source: proxy.forwarderPath, dest: forwarder },
      // node may live outside the read-only system directories (nvm, /opt): bind the binary itself.
      { source: nodePath, dest: node },
    ],
    env: { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, http_proxy: proxyUrl, https_proxy: proxyUrl, ALL_PROXY: proxyUrl, all_proxy: proxyUrl },
    // The forwarder dies with the sandbox's pid namespace when the command ends. The wait is bounded
    // (10 s); if the forwarder does not come up, the command runs with no way out at all.
    prelude: [
      `${node} ${forwarder} ${socket} ${SANDBOX_PROXY_PORT} ${ready} </dev/null >/dev/null 2>&1 &`,
      `for ((spacebot_i = 0; spacebot_i < 200; spacebot_i++)); do [ -e ${ready} ] && break; sleep 0.05; done`,
      'unset spacebot_i',
    ].join('\n'),
  };
}

let running: EgressProxy | undefined;

/**
 * Starts this process's egress proxy when its workers' sandboxes get guarded network (`[tools]
 * sandbox = "bwrap"` and `network = "guarded"`), in whichever process runs the tools (the worker, or
 * the tools service). Returns how to stop it, or undefined when there is nothing to start.
 */
export async function startWorkerEgress(config: Pick<SpacebotConfig, 'tools' | 'network'>, logger: Logger): Promise<(() => Promise<void>) | undefined> {
  if (config.tools.network !== 'guarded') return undefined;
  if (config.tools.sandbox !== 'bwrap') {
    logger.warn('[tools] network = "guarded" has no effect with sandbox = "none": commands run on the host, with its network');
    return undefined;
  }
  // Its own list: the webhooks' `[network] allow` does not open anything to sandboxed commands.
  const proxy = await EgressProxy.start({ policy: egressPolicy(config.network), logger });
  setWorkerEgressProxy(proxy);
  return async () => {
    if (running === proxy) setWorkerEgressProxy(undefined);
    await proxy.stop();
  };
}

/** Set by the worker's start-up (lib/runtime/app.ts) while its egress proxy runs. */
export function setWorkerEgressProxy(proxy: EgressProxy | undefined): void {
  running = proxy;
}

/**
 * The sandbox extras of this process's egress proxy, for the shell tool when `network = "guarded"`.
 * Undefined when no proxy runs here: the sandbox then simply has no network (fails closed).
 */
export function workerEgressExtras(): SandboxExtras | undefined {
  return running ? sandboxEgressExtras(running) : undefined;
}
