import { z } from 'zod';
import type { ToolDefinition } from '../llm/types.js';

/**
 * A tool the model may call: its input is described by a zod schema, from which the JSON Schema
 * sent to the provider is generated, and against which the model's arguments are checked.
 */
export interface Tool<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  input: S;
  run(input: z.infer<S>, context: ToolContext): Promise<string>;
}

export interface ToolContext {
  agentId: string;
  channelId: string;
  signal: AbortSignal;
  /** The agent's workspace directory: file tools and the shell are confined to it (worker tools). */
  workspace?: string;
  /** Reports liveness to Temporal while a long tool runs, so cancellation reaches it (activity heartbeat). */
  heartbeat?: (details?: unknown) => void;
  /** How the shell tool isolates commands: `bwrap` runs them in bubblewrap (`[tools] sandbox`). */
  sandbox?: 'none' | 'bwrap';
}

export function defineTool<S extends z.ZodType>(tool: Tool<S>): Tool<S> {
  return tool;
}

export function toolDefinition(tool: Tool): ToolDefinition {
  const schema = z.toJSONSchema(tool.input, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
  // Providers want a bare object schema; the $schema marker is noise to them.
  delete schema.$schema;
  return { name: tool.name, description: tool.description, inputSchema: schema };
}

/** A readable one-line explanation of why the model's arguments were refused. */
export function describeInvalidInput(tool: Tool, error: z.ZodError): string {
  const problems = error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'input'}: ${i.message}`).join('; ');
  return `Invalid arguments for ${tool.name}: ${problems}`;
}
