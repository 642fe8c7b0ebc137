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

export const CHANNEL_TOOLS: readonly Tool[] = [replyTool as Tool, skipTool as Tool, cronTool as Tool];

export const CHANNEL_TOOL_DEFINITIONS = CHANNEL_TOOLS.map(toolDefinition);

export function findChannelTool(name: string): Tool | undefined {
  return CHANNEL_TOOLS.find((t) => t.name === name);
}
