import { ActivityFailure, allHandlersFinished, condition, continueAsNew, log, setHandler, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { CortexActivities, CortexStepInput } from '../activities/contract.js';
import { proxyActivitiesOn } from './queued-activities.js';
import {
  CORTEX_MEMO_KEY,
  DEFAULT_CORTEX_PASSES_PER_RUN,
  configureCortexSignal,
  cortexStatusQuery,
  runCortexPassSignal,
  type CortexCarry,
  type CortexCounts,
  type CortexSettings,
  type CortexState,
  type CortexStatus,
  type CortexTrigger,
  type CortexWorkflowInput,
} from './cortex-contract.js';

/**
 * The cortex: one long-lived workflow per agent (`cortex:<agent>`) that maintains the agent's memory
 * every `intervalMinutes` — decay, prune, merge, link, then re-render the memory context — one
 * activity per step so each pass reads step by step, with its counts, in the Temporal UI.
 *
 * Circuit breaker: a step that still fails after its (short) retry policy fails the pass, and the
 * next pass comes after `retryMinutes` instead of the full interval; after `failureLimit` failed
 * passes in a row the cortex pauses for `pauseMinutes`, then tries again on its
 * own (one more failure pauses it again; a success closes the breaker and resets the count). The
 * state is in the `cortexStatus` query and, for readers without a worker (the API, the UI), in the
 * workflow's memo under `cortex`.
 *
 * No step calls a model, so an agent whose budget is exhausted keeps its maintenance: it costs no
 * tokens. A step that ever calls a model must check lib/costs/budget.ts first and skip when refused.
 */

// Short retries: a step that keeps failing should count against the breaker soon, not hang the pass.
const cortex = proxyActivitiesOn<CortexActivities>('background', {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3 },
});

const STEPS: readonly { name: keyof CortexCounts; activity: keyof CortexActivities; summary: string }[] = [
  { name: 'decay', activity: 'decayMemories', summary: 'decay importance' },
  { name: 'prune', activity: 'pruneMemories', summary: 'prune unimportant memories' },
  { name: 'merge', activity: 'mergeMemories', summary: 'merge near-duplicates' },
  { name: 'link', activity: 'linkMemories', summary: 'link related memories' },
  { name: 'context', activity: 'renderMemoryContext', summary: 'render the memory context' },
];

const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

export async function cortexWorkflow(input: CortexWorkflowInput): Promise<CortexStatus> {
  const { agentId } = input;
  const info = workflowInfo();
  const carry: CortexCarry = input.carry ?? { passes: 0, consecutiveFailures: 0 };
  let settings: CortexSettings = input.settings;
  let passes = carry.passes;
  let consecutiveFailures = carry.consecutiveFailures;
  let pausedUntil = carry.pausedUntil;
  let lastPass = carry.lastPass;
  let lastSuccessAt = carry.lastSuccessAt;
  // A fresh cortex makes its first pass at once (the memory context exists from the start).
  let nextPassAt = carry.nextPassAt ?? Date.now();
  let runRequested = carry.runRequested ?? false;
  let running = false;
  let wake = 0;
  let passesThisRun = 0;

  const state = (): CortexState => {
    if (!settings.enabled) return 'stopped';
    if (running) return 'running';
    return pausedUntil !== undefined && pausedUntil > Date.now() ? 'paused' : 'waiting';
  };
  const status = (): CortexStatus => ({
    agentId,
    state: state(),
    settings,
    passes,
    consecutiveFailures,
    ...(pausedUntil !== undefined && pausedUntil > Date.now() ? { pausedUntil: iso(pausedUntil) } : {}),
    ...(settings.enabled ? { nextPassAt: iso(dueAt()) } : {}),
    ...(lastPass ? { lastPass } : {}),
    ...(lastSuccessAt ? { lastSuccessAt } : {}),
  });
  const publish = () => upsertMemo({ [CORTEX_MEMO_KEY]: status() });
  const dueAt = () => (pausedUntil !== undefined ? Math.max(nextPassAt, pausedUntil) : nextPassAt);

  setHandler(runCortexPassSignal, () => {
    runRequested = true;
  });
  setHandler(configureCortexSignal, (next) => {
    // A changed interval applies from the last pass (or now), not from the old due time.
    if (next.intervalMinutes !== settings.intervalMinutes) {
      const from = lastPass ? Date.parse(lastPass.finishedAt) : Date.now();
      nextPassAt = Math.max(Date.now(), from + next.intervalMinutes * MINUTE);
    }
    settings = next;
    wake++;
  });
  setHandler(cortexStatusQuery, status);

  publish();
  while (settings.enabled) {
    const seenWake = wake;
    const waitMs = dueAt() - Date.now();
    if (!runRequested && waitMs > 0) {
      await condition(() => runRequested || wake !== seenWake, waitMs);
      if (!runRequested && wake !== seenWake) {
        publish();
        continue; // new settings: recompute the due time (or stop)
      }
    }
    if (!settings.enabled) break;
    const trigger: CortexTrigger = runRequested ? 'manual' : 'schedule';
    runRequested = false;
    await runPass(trigger);
    passesThisRun++;
    if (passesThisRun >= (input.passesPerRun ?? DEFAULT_CORTEX_PASSES_PER_RUN) || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof cortexWorkflow>({
        ...input,
        settings,
        carry: { passes, consecutiveFailures, pausedUntil, nextPassAt, lastPass, lastSuccessAt, runRequested },
      });
    }
  }
  publish();
  log.info('cortex stopped: disabled by configuration', { agent: agentId });
  return status();

  async function runPass(trigger: CortexTrigger): Promise<void> {
    running = true;
    const startedMs = Date.now();
    const passKey = `${info.runId}:${passesThisRun + 1}`;
    const stepInput: CortexStepInput = { agentId, passKey, now: iso(startedMs), intervalMinutes: settings.intervalMinutes };
    const counts: CortexCounts = {};
    let failedStep: string | undefined;
    let error: string | undefined;
    publish();
    for (const step of STEPS) {
      try {
        const result = await cortex[step.activity].executeWithOptions({ summary: `${step.summary} (${agentId})` }, [stepInput]);
        (counts as Record<string, unknown>)[step.name] = result;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        failedStep = step.name;
        error = err.cause?.message ?? err.message;
        break;
      }
    }
    const finishedMs = Date.now();
    passes++;
    const ok = failedStep === undefined;
    lastPass = { passKey, trigger, startedAt: iso(startedMs), finishedAt: iso(finishedMs), ok, counts, ...(ok ? {} : { failedStep, error }) };
    if (ok) {
      consecutiveFailures = 0;
      pausedUntil = undefined;
      lastSuccessAt = iso(finishedMs);
    } else {
      consecutiveFailures++;
      if (consecutiveFailures >= settings.failureLimit) {
        pausedUntil = finishedMs + settings.pauseMinutes * MINUTE;
        log.warn('cortex paused: too many failed passes in a row', { agent: agentId, failures: consecutiveFailures, pausedUntil: iso(pausedUntil), error });
      } else {
        log.warn('cortex pass failed', { agent: agentId, step: failedStep, failures: consecutiveFailures, error });
      }
    }
    if (ok) nextPassAt = finishedMs + settings.intervalMinutes * MINUTE;
    else nextPassAt = pausedUntil ?? finishedMs + Math.min(settings.retryMinutes, settings.intervalMinutes) * MINUTE;
    running = false;
    publish();
  }
}
