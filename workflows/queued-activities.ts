import { proxyActivities, workflowInfo, type ActivityInterfaceFor, type ActivityOptions } from '@temporalio/workflow';
import { activityTaskQueue, type ActivityQueueKind } from './task-queues.js';

/**
 * `proxyActivities` on the queue of one kind of work (workflows/task-queues.ts). The queue is derived
 * from the task queue of the workflow making the call, known only inside a workflow, so it is resolved
 * when an activity is called, not when the module loads; declared at module level like any proxy.
 * `options` are used as given (any ActivityOptions) except for the task queue.
 *
 * Moving an activity to another queue changes no command in the history (type and id stay), so
 * recorded histories replay unchanged, and a task scheduled on the main queue before a deploy is
 * still run there: the main Worker keeps every activity registered.
 */
export function proxyActivitiesOn<A>(kind: ActivityQueueKind, options: ActivityOptions): ActivityInterfaceFor<A> {
  // One proxy per queue: with a reused V8 context, workflows of several task queues share this module.
  const byQueue = new Map<string, ActivityInterfaceFor<A>>();
  const current = (): ActivityInterfaceFor<A> => {
    const taskQueue = activityTaskQueue(workflowInfo().taskQueue, kind);
    let proxy = byQueue.get(taskQueue);
    if (!proxy) {
      proxy = proxyActivities<A>({ ...options, taskQueue });
      byQueue.set(taskQueue, proxy);
    }
    return proxy;
  };
  return new Proxy({} as ActivityInterfaceFor<A>, {
    get(_target, name) {
      if (typeof name !== 'string') return undefined;
      return current()[name as keyof ActivityInterfaceFor<A>];
    },
  });
}
