import { z } from 'zod';
import { MAX_MESSAGE_CHARS } from '../../workflows/channel-contract.js';
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

export const CHANNEL_TOOLS: readonly Tool[] = [replyTool as Tool, skipTool as Tool];

export const CHANNEL_TOOL_DEFINITIONS = CHANNEL_TOOLS.map(toolDefinition);

export function findChannelTool(name: string): Tool | undefined {
  return CHANNEL_TOOLS.find((t) => t.name === name);
}
