import type { Logger } from '../logger.js';
import type { SandboxSettings } from './config.js';
import { isRoot, ROOT_REFUSAL } from './access.js';
import { probeSandbox, type SandboxProbe } from './probe.js';

/** A worker process refuses to start: `sandbox = "none"` as root without `allow_unsandboxed_root`. */
export class SandboxPolicyError extends Error {
  override name = 'SandboxPolicyError';
}

/**
 * The refusal alone, silent otherwise: `sandbox = "none"` as root without `allow_unsandboxed_root`
 * throws SandboxPolicyError. Called before anything starts, so that refusal is the only line printed.
 */
export function refuseUnsandboxedRoot(settings: SandboxSettings): void {
  if (settings.sandbox === 'none' && isRoot() && !settings.allowUnsandboxedRoot) throw new SandboxPolicyError(ROOT_REFUSAL);
}

/**
 * Start-up of a process that runs workers' tools: probes the sandbox once and says in one line what
 * that means. Throws SandboxPolicyError for an unsandboxed root; warns at every start for `none`.
 */
export function announceSandbox(settings: SandboxSettings, logger: Logger, probe: () => SandboxProbe = probeSandbox): void {
  refuseUnsandboxedRoot(settings);
  if (settings.sandbox === 'none') {
    logger.warn(
      `[tools] sandbox = "none": workers' shell commands run unconfined on this host as ${isRoot() ? 'root' : 'this process\'s user'}, ` +
        'with its files, network and processes within reach; use the default sandbox = "bwrap" unless every chat user is trusted',
    );
    return;
  }
  const result = probe();
  if (result.available) {
    logger.info({ bwrap: result.bwrap, network: settings.network }, 'worker sandbox: bubblewrap');
    return;
  }
  logger.warn(`worker sandbox unavailable: ${result.reason}; the shell, file_write and file_edit tools are not offered. To enable: ${result.howToEnable}`);
}
