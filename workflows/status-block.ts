import type { ProcessRecord } from './process-contract.js';

/** Finished items listed, at most; older ones are already in the conversation as messages. */
const MAX_FINISHED = 5;
const TASK_CHARS = 160;
const STATUS_CHARS = 240;

/**
 * The channel's status block: what its branches and workers are doing, rendered into each channel
 * LLM call after the conversation (never in the cached prompt prefix, since it changes while work
 * runs). Undefined when there is nothing to show, so idle channels pay no tokens for it.
 */
export function renderStatusBlock(processes: readonly ProcessRecord[]): string | undefined {
  const running = processes.filter((p) => p.state === 'running' || p.state === 'waiting');
  const finished = processes.filter((p) => p.state !== 'running' && p.state !== 'waiting' && !p.reported).slice(-MAX_FINISHED);
  if (!running.length && !finished.length) return undefined;
  const lines = ['<status>'];
  if (running.length) {
    lines.push('Running:');
    for (const p of running) {
      const waiting = p.state === 'waiting' ? ', waiting for a follow-up (use route)' : '';
      const calls = p.kind === 'worker' ? `, ${p.toolCalls} tool calls` : '';
      lines.push(`- ${ref(p)} since ${p.startedAt}${calls}${waiting}: ${clip(p.task, TASK_CHARS)}`);
      if (p.status) lines.push(`  latest status: ${clip(p.status, STATUS_CHARS)}`);
    }
  }
  if (finished.length) {
    lines.push('Finished, not yet reported:');
    for (const p of finished) lines.push(`- ${ref(p)} ${p.state}: ${clip(p.result ?? '', STATUS_CHARS)}`);
  }
  lines.push('</status>');
  return lines.join('\n');
}

/** How the model names a process in `route` and `cancel`: "worker/2". */
export function ref(p: Pick<ProcessRecord, 'kind' | 'n'>): string {
  return `${p.kind}/${p.n}`;
}

/** The message a finished branch or worker becomes in the channel's context. */
export function resultMessage(p: ProcessRecord): string {
  const what = p.kind === 'branch' ? 'Branch' : 'Worker';
  const verb = p.state === 'waiting' ? 'finished a round and waits for a follow-up' : p.state;
  return `[${what} ${ref(p)} ${verb}] ${p.kind === 'branch' ? 'Question' : 'Task'}: ${clip(p.task, TASK_CHARS)}\n${p.kind === 'branch' ? 'Conclusion' : 'Outcome'}: ${p.result ?? ''}`;
}

function clip(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
