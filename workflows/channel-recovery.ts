import { log, patched, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { ChannelRecoveryActivities, RecoverChannelInput, RecoveredChannel } from '../activities/contract.js';
import { STORAGE_OPTIONS } from './activity-options.js';
import type { ChannelState } from './channel-contract.js';

// A few reads of our own database and of Temporal's visibility: a local activity, so the first
// message of the new run does not wait for a server round trip more than it must.
const recovery = proxyLocalActivities<ChannelRecoveryActivities>(STORAGE_OPTIONS);

/**
 * Whether this run must take over from an earlier run of its workflow id. A run that continued as
 * new got its state as input; one started at turn 0 is either a new conversation or one whose last
 * run was closed (terminated, reset, failed), in which case its state is only in Postgres and the
 * children's visibility records. Both look alike from inside, so every such run asks (a new
 * conversation finds nothing). Histories recorded before replay without the check.
 */
export function needsRecovery(initial: ChannelState): boolean {
  if (initial.turnSeq !== 0 || workflowInfo().continuedFromExecutionRunId !== undefined) return false;
  return patched('channel-recover-state');
}

/**
 * Reads the earlier runs' state. Undefined when it cannot be read (the database gone past the
 * activity's bounded retries): the run then starts fresh, as before recovery existed, rather than fail.
 */
export async function recoverChannel(input: RecoverChannelInput): Promise<RecoveredChannel | undefined> {
  try {
    return await recovery.recoverChannel(input);
  } catch (err) {
    log.error('could not recover the state of an earlier run; starting fresh', { channelId: input.channelId, error: (err as Error).message });
    return undefined;
  }
}
