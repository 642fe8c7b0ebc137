import { decodeVersioningBehavior } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { gate } from '../helpers/gate.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

/**
 * Worker Versioning with the real worker entry point (workers/worker.ts) in separate processes, one
 * per build, on the real dev server: a new build becomes current when its worker starts; a PINNED
 * run (a worker) finishes on the build it started on while the AUTO_UPGRADE channel moves to the new
 * one; an old build restarting later does not take the deployment back. What ran where is read from
 * the server: the deployment's routing config, each run's versioning info and the build recorded on
 * every completed workflow task.
 */
const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
const channelId = 'channel:main:webhook:deploy';
const workerId = `${channelId}/worker/1`;
const BUILD_A = 'spacebot-test-build-a';
const BUILD_B = 'spacebot-test-build-b';

let env: TestWorkflowEnvironment;
let h: Harness;
const processes: WorkerProcess[] = [];
beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({ env, noWorker: true });
}, 180_000);
afterAll(async () => {
  for (const p of processes) await p.kill();
  await h?.close();
  await env?.teardown();
});

async function startBuild(buildId: string): Promise<WorkerProcess> {
  const p = startWorkerProcess(h, { SPACEBOT_BUILD_ID: buildId });
  processes.push(p);
  await p.ready;
  return p;
}

async function currentBuild(): Promise<string | undefined> {
  const res = await env.client.workflowService.describeWorkerDeployment({ namespace: env.namespace ?? 'default', deploymentName: 'spacebot' });
  return res.workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
}

/** The build id recorded on each completed workflow task of the run, in history order. */
async function buildsOfWorkflowTasks(workflowId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.workflowTaskCompletedEventAttributes ? [e.workflowTaskCompletedEventAttributes.deploymentVersion?.buildId ?? '(none)'] : []));
}

async function versioningOf(workflowId: string): Promise<{ behavior: unknown; buildId: unknown }> {
  const info = (await env.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.versioningInfo;
  return { behavior: decodeVersioningBehavior(info?.behavior), buildId: info?.deploymentVersion?.buildId };
}

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const lastIsToolResult = (req: NeutralRequest) => {
  const [before, last] = req.messages.slice(-2);
  return last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>') && before?.role === 'tool');
};
const skip: ScriptStep = { toolCalls: [{ name: 'skip', input: {} }] };

test('a worker process of a new build makes it current', async () => {
  const a = await startBuild(BUILD_A);
  expect(await currentBuild()).toBe(BUILD_A);
  expect(a.output()).toContain('this build is now the current version');
}, 120_000);

test('on a deploy the pinned worker run stays on its build while the channel moves to the new current build', async () => {
  const hold = gate();
  let workerAsked = false;
  h.fake.script(async (req): Promise<ScriptStep> => {
    if (isWorker(req)) {
      workerAsked = true;
      await hold.promise;
      return { toolCalls: [{ name: 'set_status', input: { status: 'finished the long job', done: true } }] };
    }
    if (req.lastUserText.includes('[Worker worker/1 completed]')) return { toolCalls: [{ name: 'reply', input: { text: 'The worker is done.' } }] };
    if (req.lastUserText.startsWith('still there')) return { text: 'Yes, on the new build.' };
    if (lastIsToolResult(req)) return skip;
    return { toolCalls: [{ name: 'reply', input: { text: 'Starting a worker.' } }, { name: 'spawn_worker', input: { task: 'A long job.' } }] };
  });
  const started = await h.request('POST', `${conv('deploy')}/messages`, { text: 'run the long job', wait: true });
  expect(started.status).toBe(200);
  await eventually(() => (workerAsked ? true : undefined), 30_000, 'the worker to call the model');

  // The deploy: a worker of build B starts beside A's and makes B current.
  await startBuild(BUILD_B);
  expect(await currentBuild()).toBe(BUILD_B);

  // The channel's next workflow task runs on B; the worker, pinned, finishes on A.
  const after = await h.request('POST', `${conv('deploy')}/messages`, { text: 'still there?', wait: true });
  expect((after.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['Yes, on the new build.']);
  hold.open();
  await eventually(async () => ((await env.client.workflow.getHandle(workerId).describe()).status.name === 'COMPLETED' ? true : undefined), 30_000, 'the worker run to complete');
  await eventually(async () => {
    const res = await h.request('GET', `${conv('deploy')}/messages`);
    return (res.body.messages as { direction: string; text: string }[]).some((m) => m.direction === 'outbound' && m.text === 'The worker is done.') ? true : undefined;
  }, 30_000, 'the channel to report the worker');

  expect(await versioningOf(workerId)).toEqual({ behavior: 'PINNED', buildId: BUILD_A });
  const workerBuilds = await buildsOfWorkflowTasks(workerId);
  expect(workerBuilds.length).toBeGreaterThan(1);
  expect(new Set(workerBuilds)).toEqual(new Set([BUILD_A]));

  expect(await versioningOf(channelId)).toEqual({ behavior: 'AUTO_UPGRADE', buildId: BUILD_B });
  const channelBuilds = await buildsOfWorkflowTasks(channelId);
  // A's tasks first (the first turn, the worker's start), then only B's once B is current.
  const firstB = channelBuilds.indexOf(BUILD_B);
  expect(channelBuilds[0]).toBe(BUILD_A);
  expect(firstB).toBeGreaterThan(0);
  expect(new Set(channelBuilds.slice(firstB))).toEqual(new Set([BUILD_B]));
}, 180_000);

test('a worker of an older build restarting after the deploy leaves the newer build current', async () => {
  // A's process stops and comes back (a crash restart during the rollout).
  const a = processes[0]!;
  await a.kill();
  const restarted = await startBuild(BUILD_A);
  expect(await currentBuild()).toBe(BUILD_B);
  // It saw that its build had been current and was replaced, and did not try to take it back.
  expect(restarted.output()).toContain('this build was current before or is ramping; leaving the current version alone');
  expect(restarted.output()).not.toContain('could not make this build current');
}, 120_000);
