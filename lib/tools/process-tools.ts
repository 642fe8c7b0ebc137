import { z } from 'zod';
import type { AgentConfig, SpacebotConfig } from '../config/types.js';
import type { ToolDefinition } from '../llm/types.js';
import { CHANNEL_TOOLS } from './channel-tools.js';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { makeChannelRecallTool } from './channel-recall.js';
import { MEMORY_TOOLS } from './memory-tools.js';
import { defineTool, toolDefinition, type Tool } from './tool.js';
import { makeWorkerTools } from './workspace/index.js';
import { DEFAULT_AUTONOMY, type Autonomy } from '../policy/autonomy.js';
import { filterTools } from '../policy/tool-filter.js';

/** Which kind of process a tool set is for (the channel, a branch, a worker). */
export type ToolProcess = 'channel' | 'branch' | 'worker';

/**
 * `set_status` is carried out by the worker workflow (it updates the channel's status block); `run`
 * here is reached only when the arguments were invalid, to explain the problem to the model.
 */
export const setStatusTool = defineTool({
  name: 'set_status',
  description:
    'Tell the conversation what you are doing; it shows in its status block while you work. When the task is finished (or cannot be), call it with done: true and the outcome: what you did, what came of it, and where results are.',
  input: z
    .object({
      status: z.string().min(1).max(2000).describe('One or two sentences.'),
      done: z.boolean().optional().describe('True when this is your final outcome.'),
    })
    .strict(),
  async run() {
    return 'Status updated.';
  },
});

export interface ToolSet {
  tools: readonly Tool[];
  definitions: ToolDefinition[];
  find(name: string): Tool | undefined;
}

function toolSet(tools: readonly Tool[]): ToolSet {
  return { tools, definitions: tools.map(toolDefinition), find: (name) => tools.find((t) => t.name === name) };
}

/** Built once per config (one database per config): definitions feed every LLM call, so they are not regenerated per call. */
const cache = new WeakMap<SpacebotConfig, Map<string, ToolSet>>();

/**
 * The tools a process may call. Channel: conversation tools. Branch: memory and older transcript.
 * Worker: task tools confined to the workspace, `set_status`, and memory tools when the agent allows.
 * The agent's tool policy and the process's autonomy then take tools away (lib/policy/tool-filter.ts).
 */
export function toolsFor(config: SpacebotConfig, db: Kysely<Database>, agent: AgentConfig, process: ToolProcess, autonomy: Autonomy = DEFAULT_AUTONOMY): ToolSet {
  let perConfig = cache.get(config);
  if (!perConfig) cache.set(config, (perConfig = new Map()));
  const key = `${agent.id}:${autonomy}:${process}:${process === 'worker' && agent.memoryToolsForWorkers ? 'memory' : ''}`;
  let set = perConfig.get(key);
  if (!set) {
    if (process === 'channel') set = toolSet(CHANNEL_TOOLS);
    else if (process === 'branch') set = toolSet([makeChannelRecallTool(db) as Tool, ...MEMORY_TOOLS]);
    else set = toolSet([...makeWorkerTools(config.tools), setStatusTool as Tool, ...(agent.memoryToolsForWorkers ? MEMORY_TOOLS : [])]);
    set = toolSet(filterTools(set.tools, agent.policy, autonomy));
    perConfig.set(key, set);
  }
  return set;
}
