import { toolVerdict, type Autonomy, type ToolLists } from '../../workflows/approval-policy.js';

export { toolVerdict, type ToolVerdict, type WorkerToolPolicy } from '../../workflows/approval-policy.js';

/** The tools a process is offered: those the lists and the autonomy leave (lib/tools/process-tools.ts). */
export function filterTools<T extends { name: string }>(tools: readonly T[], lists: ToolLists, autonomy: Autonomy): T[] {
  return tools.filter((t) => toolVerdict(lists, autonomy, t.name).allowed);
}
