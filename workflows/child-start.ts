import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { log } from '@temporalio/workflow';

/**
 * Further sequence numbers tried when a child's workflow id is still held by a running workflow:
 * after a Reset, or a run closed and recovered, the channel hands out numbers again whose children
 * still run. Bounded: past it the spawn is refused with a tool error.
 */
export const CHILD_ID_ATTEMPTS = 5;

export type ChildStart = { started: true; n: number } | { started: false; reason: string };

/**
 * Starts a child under the number `first` gives, taking the next number while the id is held by a
 * running workflow. Never throws: any failure to start becomes a reason the model can read.
 */
export async function startWithFreeId(first: number, next: () => number, start: (n: number) => Promise<unknown>): Promise<ChildStart> {
  let n = first;
  for (let attempt = 1; ; attempt++) {
    try {
      await start(n);
      return { started: true, n };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        log.warn('a child workflow could not be started', { n, error: (err as Error).message });
        return { started: false, reason: `it could not be started (${(err as Error).message})` };
      }
      log.warn('a child workflow id is still held by a running workflow', { workflowId: err.workflowId, attempt });
      if (attempt >= CHILD_ID_ATTEMPTS) return { started: false, reason: `its workflow ids up to ${err.workflowId} are all held by running workflows` };
      n = next();
    }
  }
}
