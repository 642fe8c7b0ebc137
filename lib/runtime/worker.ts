import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { toolsTaskQueueFor } from '../../workflows/channel-settings.js';

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

/**
 * Spacebot's Temporal workers in one process: the main one runs every workflow and activity on the
 * configured task queue; a second polls `<task queue>-tools` for workers' task tools (shell, files),
 * so long tool runs never take the slots that conversations need, and can be scaled apart.
 */
export class SpacebotWorker {
  private running?: Promise<void>;

  constructor(
    readonly main: Worker,
    readonly tools: Worker,
  ) {}

  /** Runs both until shutdown; either one failing stops the other. */
  run(): Promise<void> {
    this.running ??= (async () => {
      const runs = [this.main.run(), this.tools.run()];
      try {
        await Promise.race(runs);
      } finally {
        this.shutdown();
        await Promise.allSettled(runs);
      }
      // Surface the first failure, if any.
      await Promise.all(runs);
    })();
    return this.running;
  }

  shutdown(): void {
    for (const w of [this.main, this.tools]) if (w.getState() === 'RUNNING') w.shutdown();
  }

  getState(): ReturnType<Worker['getState']> {
    return this.main.getState();
  }
}

export async function createSpacebotWorker(options: WorkerOptions): Promise<SpacebotWorker> {
  const activities = createActivities(options.deps);
  const common = { connection: options.connection, namespace: options.namespace, ...(options.identity ? { identity: options.identity } : {}) };
  const main = await Worker.create({
    ...common,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: workflowsPath() }),
    activities,
  });
  const tools = await Worker.create({ ...common, taskQueue: toolsTaskQueueFor(options.taskQueue), activities: { runTool: activities.runTool } });
  return new SpacebotWorker(main, tools);
}
