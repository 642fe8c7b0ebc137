import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Tool, ToolContext } from '../../lib/tools/tool.js';

/** A scratch directory with a workspace inside it and room for "outside" files next to it. */
export interface Scratch {
  dir: string;
  workspace: string;
  outside: string;
  remove(): void;
}

export function scratch(prefix = 'spacebot-tools-'): Scratch {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)));
  return {
    dir,
    workspace: path.join(dir, 'workspace'),
    outside: path.join(dir, 'outside'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function context(workspace: string, extra: Partial<ToolContext> = {}): ToolContext {
  return { agentId: 'main', channelId: 'channel:main:test:c1', signal: new AbortController().signal, workspace, ...extra };
}

/** Calls a tool the way the tool activity does: arguments checked against its schema, then run. */
export async function callTool(tool: Tool, args: unknown, ctx: ToolContext): Promise<string> {
  const parsed = tool.input.parse(args);
  return tool.run(parsed, ctx);
}
