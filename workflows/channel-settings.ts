import { DEFAULT_QUEUE_MODE, type ChannelSettings } from './channel-contract.js';
import { activityTaskQueue } from './task-queues.js';

/** Defaults for a channel's settings: what the issue asks for, and what older channels run with. */
export const DEFAULT_CHANNEL_SETTINGS: Omit<ChannelSettings, 'toolsTaskQueue'> = {
  queueMode: DEFAULT_QUEUE_MODE,
  maxBranches: 5,
  maxWorkers: 5,
  branchMaxLlmCalls: 10,
  workerMaxLlmCalls: 50,
  workerTimeLimitMs: 30 * 60_000,
  debounceMs: 1500,
  debounceMaxMs: 5000,
  resultCoalesceMs: 500,
  maxResultTurns: 3,
};

/** Worker tool activities run on a task queue of their own beside the channel's. */
export function toolsTaskQueueFor(taskQueue: string): string {
  return activityTaskQueue(taskQueue, 'tools');
}

/**
 * The settings a channel runs with. Channels started before settings existed keep the behaviour they
 * started with (one turn per queued message), so their histories replay unchanged.
 */
export function channelSettings(given: ChannelSettings | undefined, taskQueue: string): ChannelSettings {
  if (!given) return { ...DEFAULT_CHANNEL_SETTINGS, queueMode: 'followup', toolsTaskQueue: toolsTaskQueueFor(taskQueue) };
  return { ...DEFAULT_CHANNEL_SETTINGS, ...given };
}
