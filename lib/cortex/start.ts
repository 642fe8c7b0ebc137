import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { SpacebotConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import { AGENT, PROCESS } from '../temporal/search-attributes.js';
import {
  CORTEX_PROCESS,
  configureCortexSignal,
  cortexWorkflowId,
  type CortexSettings,
  type CortexWorkflowInput,
} from '../../workflows/cortex-contract.js';
import type { cortexWorkflow } from '../../workflows/cortex.js';

export interface EnsureCortexOptions {
  logger?: Logger;
  /** Replaces settings of `config.cortex` (tests: a short pause). */
  settings?: Partial<CortexSettings>;
  /** Only these agents (default: every configured agent). */
  agents?: string[];
  /** Passes before a run continues as new (default in the workflow). */
  passesPerRun?: number;
}

export interface EnsureCortexResult {
  /** Workflow ids signalled or started. */
  ensured: string[];
  /** Workflow ids told to stop (cortex disabled). */
  stopped: string[];
}

/**
 * Makes sure every agent has its cortex workflow (`cortex:<agent>`), once per start of the process:
 * signal-with-start with the current settings, so a running cortex keeps its state and follows the
 * config (a changed interval applies from its last pass), and a missing one starts with a first pass
 * right away. With `[cortex] enabled = false` nothing is started, and cortexes still running from an
 * earlier configuration are told to stop.
 */
export async function ensureCortexWorkflows(client: Client, config: SpacebotConfig, opts: EnsureCortexOptions = {}): Promise<EnsureCortexResult> {
  const settings: CortexSettings = { ...config.cortex, ...opts.settings };
  const agents = opts.agents ?? config.agents.map((a) => a.id);
  const result: EnsureCortexResult = { ensured: [], stopped: [] };
  for (const agentId of agents) {
    const workflowId = cortexWorkflowId(agentId);
    if (!settings.enabled) {
      try {
        await client.workflow.getHandle(workflowId).signal(configureCortexSignal, settings);
        result.stopped.push(workflowId);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      continue;
    }
    const input: CortexWorkflowInput = { agentId, settings, ...(opts.passesPerRun ? { passesPerRun: opts.passesPerRun } : {}) };
    await client.workflow.signalWithStart<typeof cortexWorkflow, [CortexSettings]>('cortexWorkflow', {
      workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [input],
      signal: configureCortexSignal,
      signalArgs: [settings],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: AGENT, value: agentId },
        { key: PROCESS, value: CORTEX_PROCESS },
      ]),
      memo: { agent: agentId, process: CORTEX_PROCESS },
      staticSummary: `Memory maintenance (cortex) of agent ${agentId}`,
    });
    result.ensured.push(workflowId);
  }
  if (result.ensured.length) opts.logger?.info({ workflows: result.ensured, intervalMinutes: settings.intervalMinutes }, 'cortex workflows running');
  if (result.stopped.length) opts.logger?.info({ workflows: result.stopped }, 'cortex disabled: running cortex workflows told to stop');
  return result;
}
