import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** The workflows entry: the .ts source under tsx and jest, the compiled .js under dist/. */
export function workflowsPath(): string {
  const base = path.resolve(HERE, '../../workflows/index');
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (tests bundle once per file); else the workflows are bundled at start. */
  workflowBundle?: WorkflowBundleOption;
  /** Identity shown in the Temporal UI for this worker. */
  identity?: string;
}

/** A Temporal worker running Spacebot's workflows and activities on one task queue. */
export function createSpacebotWorker(options: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: workflowsPath() }),
    activities: createActivities(options.deps),
    ...(options.identity ? { identity: options.identity } : {}),
  });
}
