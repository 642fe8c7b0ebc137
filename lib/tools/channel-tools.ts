import { z } from 'zod';
import { MAX_MESSAGE_CHARS } from '../../workflows/channel-contract.js';
import { cronToolInput } from '../heartbeats/cron-tool.js';
import { defineTool, toolDefinition, type Tool } from './tool.js';

/**
 * Tools of the channel process. `reply` is carried out by the workflow as a delivery activity; its
 * `run` here is reached only when its arguments were invalid, to explain the problem to the model.
 */
export const replyTool = defineTool({
  name: 'reply',
  description: 'Send a message to the conversation. Call it to answer the user; it may be called more than once.',
  input: z.object({ text: z.string().min(1).max(MAX_MESSAGE_CHARS).describe('The message to send, in Markdown.') }).strict(),
  async run() {
    return 'Delivered.';
  },
});

export const skipTool = defineTool({
  name: 'skip',
  description: 'Deliberately say nothing this turn (for example when people are talking among themselves).',
  input: z.object({ reason: z.string().max(500).optional().describe('Why staying silent is right.') }).strict(),
  async run() {
    return 'Staying silent this turn.';
  },
});

/**
 * Lets the agent manage its own heartbeats (scheduled prompts). It needs the worker's Temporal client,
 * so activities/run-tool.ts carries it out (lib/heartbeats/cron-tool.ts); `run` here is never reached there.
 */
export const cronTool = defineTool({
  name: 'cron',
  description:
    'Manage your heartbeats: prompts you run on a schedule in a fresh channel, with the result sent to this conversation. ' +
    'action "create" (id, prompt, interval_seconds >= 60 or cron, optional timezone, active_hours, run_once), "list", or "delete" (id). ' +
    'Reply HEARTBEAT_OK during a heartbeat run when there is nothing to report.',
  input: cronToolInput,
  async run() {
    throw new Error('the cron tool runs in the tool activity');
  },
});

const taskType = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/)
  .optional()
  .describe('Optional kind of work (e.g. "coding", "summarise"): picks the model configured for it.');
const processRef = z
  .string()
  .regex(/^(branch|worker)\/[0-9]{1,6}$/)
  .describe('The process, as shown in the status block: "worker/<n>" or "branch/<n>".');

/**
 * `branch`, `spawn_worker`, `route` and `cancel` are carried out by the channel workflow (they start,
 * signal or cancel child workflows); their `run` here is reached only when the arguments were invalid.
 */
export const branchTool = defineTool({
  name: 'branch',
  description:
    'Think something through in the background: a branch gets a copy of this conversation and your question, can recall memories and older transcript, and returns a conclusion that arrives here as a message. The conversation is not blocked meanwhile.',
  input: z.object({ question: z.string().min(1).max(8000).describe('What the branch should work out.'), task_type: taskType }).strict(),
  async run() {
    return 'Branch started.';
  },
});

export const spawnWorkerTool = defineTool({
  name: 'spawn_worker',
  description:
    'Delegate a task to a worker: a background process with a fresh context and tools for the shell and files in your workspace. It reports progress in the status block and its outcome arrives here as a message. Give it everything it needs in `task` and `brief`: it does not see this conversation.',
  input: z
    .object({
      task: z.string().min(1).max(8000).describe('The task, stated completely.'),
      brief: z.string().max(4000).optional().describe('Context from this conversation the task needs.'),
      interactive: z.boolean().optional().describe('Keep the worker waiting for follow-ups (sent with `route`) after each round.'),
      task_type: taskType,
    })
    .strict(),
  async run() {
    return 'Worker started.';
  },
});

export const routeTool = defineTool({
  name: 'route',
  description: 'Send a follow-up message to an interactive worker that is waiting.',
  input: z.object({ to: processRef, message: z.string().min(1).max(8000) }).strict(),
  async run() {
    return 'Routed.';
  },
});

export const cancelTool = defineTool({
  name: 'cancel',
  description: 'Stop a running branch or worker (for example when the user no longer wants the task done).',
  input: z.object({ id: processRef, reason: z.string().max(500).optional() }).strict(),
  async run() {
    return 'Cancelled.';
  },
});

/** Carried out by the tool activity through the platform adapter. */
export const reactTool = defineTool({
  name: 'react',
  description: 'Add an emoji reaction to the message you are answering (for example 👍 to acknowledge).',
  input: z.object({ emoji: z.string().min(1).max(64).describe('A unicode emoji, or a platform emoji name.') }).strict(),
  async run() {
    throw new Error('the react tool runs in the tool activity');
  },
});

export const CHANNEL_TOOLS: readonly Tool[] = [
  replyTool as Tool,
  skipTool as Tool,
  branchTool as Tool,
  spawnWorkerTool as Tool,
  routeTool as Tool,
  cancelTool as Tool,
  reactTool as Tool,
  cronTool as Tool,
];

export const CHANNEL_TOOL_DEFINITIONS = CHANNEL_TOOLS.map(toolDefinition);

export function findChannelTool(name: string): Tool | undefined {
  return CHANNEL_TOOLS.find((t) => t.name === name);
}
