import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * The cortex workflow's contract: its id, input, signals, query and status, shared by the workflow,
 * the code that starts it (lib/cortex/start.ts) and the API. Types, constants and handler
 * definitions only: safe to import from workflow code and cheap to import from anywhere else.
 */

/** Consecutive failed passes after which the cortex pauses. */
export const CORTEX_FAILURE_LIMIT = 3;
export const DEFAULT_CORTEX_PAUSE_MINUTES = 30;
export const DEFAULT_CORTEX_INTERVAL_MINUTES = 60;
/** After a failed pass the next try comes this soon (or at the interval, if shorter). */
export const DEFAULT_CORTEX_RETRY_MINUTES = 5;
/** A run continues as new after this many passes (a week of hourly passes is ~170). */
export const DEFAULT_CORTEX_PASSES_PER_RUN = 100;
/** The memo key the workflow keeps its status under (the rest of the memo is set at start). */
export const CORTEX_MEMO_KEY = 'cortex';
export const CORTEX_PROCESS = 'cortex';

export function cortexWorkflowId(agentId: string): string {
  return `cortex:${agentId}`;
}

/** What `[cortex]` configures; sent again by signal at every start so a running cortex follows the config. */
export interface CortexSettings {
  enabled: boolean;
  intervalMinutes: number;
  /** How long the circuit breaker keeps the cortex paused. */
  pauseMinutes: number;
  /** Consecutive failed passes that open the breaker. */
  failureLimit: number;
  /**
   * Delay before the next pass after a failed one, so that a broken cortex reaches the breaker in
   * minutes rather than hours (the breaker's pause is then what spaces the attempts out).
   */
  retryMinutes: number;
}

export interface CortexCounts {
  decay?: { decayed: number; days: number; at: string };
  prune?: { pruned: number; edgesRemoved: number };
  merge?: { merged: number; edgesRepointed: number };
  link?: { linked: number };
  context?: { contexts: number; changed: number; memories: number; words: number; version: number };
}

export type CortexTrigger = 'schedule' | 'manual';

export interface CortexPassRecord {
  /** Unique per pass (run id and pass number): the idempotency key of its steps. */
  passKey: string;
  trigger: CortexTrigger;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  /** The counts of the steps that ran (all five when ok). */
  counts: CortexCounts;
  /** The step that failed and why, for a failed pass. */
  failedStep?: string;
  error?: string;
}

/** What the carried-over state of one run hands to the next (continue-as-new). */
export interface CortexCarry {
  passes: number;
  consecutiveFailures: number;
  /** Epoch ms. */
  pausedUntil?: number;
  nextPassAt?: number;
  lastPass?: CortexPassRecord;
  lastSuccessAt?: string;
  /** A manual run requested while the previous run was ending. */
  runRequested?: boolean;
}

export interface CortexWorkflowInput {
  agentId: string;
  settings: CortexSettings;
  passesPerRun?: number;
  carry?: CortexCarry;
}

export type CortexState = 'waiting' | 'running' | 'paused' | 'stopped';

export interface CortexStatus {
  agentId: string;
  state: CortexState;
  settings: CortexSettings;
  /** Passes since the cortex was first started (across continue-as-new). */
  passes: number;
  consecutiveFailures: number;
  /** ISO; set while the breaker is open. */
  pausedUntil?: string;
  /** ISO; when the next scheduled pass is due (a manual run can come sooner). */
  nextPassAt?: string;
  lastPass?: CortexPassRecord;
  lastSuccessAt?: string;
}

/** Runs a pass now: even while paused (an operator's explicit request); a success closes the breaker. */
export const runCortexPassSignal = defineSignal<[]>('runCortexPass');
/** New settings (interval, enabled, breaker); `enabled: false` ends the workflow after any running pass. */
export const configureCortexSignal = defineSignal<[CortexSettings]>('configureCortex');
export const cortexStatusQuery = defineQuery<CortexStatus>('cortexStatus');
