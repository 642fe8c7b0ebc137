import { ActivityFailure, ApplicationFailure, CancellationScope, getExternalWorkflowHandle, log } from '@temporalio/workflow';
import { processFinishedSignal, processProgressSignal, type ProcessOutcome, type ProcessProgress } from './process-contract.js';

/**
 * How a branch or worker talks to its channel: by signal to the channel's workflow id. A channel
 * that has gone (terminated, say) must not fail its children, so a failed signal is only logged.
 */
export async function reportProgress(parentId: string, progress: ProcessProgress): Promise<void> {
  try {
    await getExternalWorkflowHandle(parentId).signal(processProgressSignal, progress);
  } catch (err) {
    log.warn('could not signal the channel', { parentId, error: (err as Error).message });
  }
}

/** Sent even while the process is being cancelled, so the channel always hears how it ended. */
export async function reportFinished(parentId: string, outcome: ProcessOutcome): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    try {
      await getExternalWorkflowHandle(parentId).signal(processFinishedSignal, outcome);
    } catch (err) {
      log.warn('could not signal the channel', { parentId, error: (err as Error).message });
    }
  });
}

/** A readable cause for a process that failed, for the channel's context. */
export function failureText(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && typeof cause.details?.[0] === 'string') return cause.details[0];
    return cause?.message ?? err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
