import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig } from '../config/types.js';
import { SHIPPED_PROMPTS_DIR } from '../config/load.js';

export type ProcessKind = 'channel' | 'branch' | 'worker' | 'compactor';

const PROMPT_FILES: Record<ProcessKind, string> = { channel: 'CHANNEL.md', branch: 'BRANCH.md', worker: 'WORKER.md', compactor: 'COMPACTOR.md' };
const IDENTITY_FILES = ['SOUL.md', 'IDENTITY.md', 'USER.md'] as const;

/**
 * Builds an agent's system prompt: the process prompt (the agent's override, else the shipped one)
 * followed by its identity files when present. Nothing time-varying goes in, so the prefix stays
 * byte-identical across turns and provider prompt caches hit.
 */
export async function buildSystemPrompt(agent: AgentConfig, kind: ProcessKind): Promise<string> {
  const file = PROMPT_FILES[kind];
  const base = (await readOptional(path.join(agent.promptsDir, file))) ?? (await readFile(path.join(SHIPPED_PROMPTS_DIR, file), 'utf8'));
  const sections = [base.trim().replaceAll('{{agent_name}}', agent.name)];
  for (const name of IDENTITY_FILES) {
    const text = await readOptional(path.join(agent.workspace, name));
    if (text?.trim()) sections.push(`# ${name}\n\n${text.trim()}`);
  }
  return sections.join('\n\n');
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
