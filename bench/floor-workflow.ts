/**
 * The floor of bench/orchestration.ts: the least a message can cost on Temporal when it is handled the
 * way the channel workflow handles one. One long-lived workflow per conversation (started by
 * update-with-start, USE_EXISTING), each message an update whose handler runs one no-op activity and
 * returns. Workflow code: deterministic, no I/O; only the activities' types are imported.
 */
import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './floor-activities.js';
import { floorMessageUpdate, type FloorMessageInput, type FloorMessageResult } from './floor-contract.js';

// Same kind of options as the channel's bookkeeping activities: a start-to-close timeout and a retry policy.
const { floorNoop } = proxyActivities<typeof activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * Never completes on its own: like a channel it waits for the next message. A bench conversation sees
 * at most a few hundred messages (~11 history events each), well below the 4096 events at which the
 * server suggests continue-as-new, so there is no continue-as-new here.
 */
export async function floorWorkflow(): Promise<void> {
  let handled = 0;
  setHandler(floorMessageUpdate, async ({ messageId }: FloorMessageInput): Promise<FloorMessageResult> => {
    await floorNoop(messageId);
    handled++;
    return { messageId, handled };
  });
  await condition(() => false);
}
