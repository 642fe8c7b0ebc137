/**
 * Every tool name a process can be offered, for checking `tools_allow` / `tools_deny` at start-up: a
 * misspelt name in a deny list would otherwise leave the tool allowed without a word.
 * test/security/policy.test.ts checks this list against the tool sets the processes are built with.
 */
export const KNOWN_TOOL_NAMES: readonly string[] = [
  // channel
  'reply',
  'skip',
  'react',
  'cron',
  'branch',
  'spawn_worker',
  'route',
  'cancel',
  // branch
  'channel_recall',
  // memory (branches; workers when memory_tools_for_workers)
  'memory_save',
  'memory_recall',
  'memory_delete',
  // worker
  'shell',
  'file_read',
  'file_write',
  'file_edit',
  'file_list',
  'set_status',
];

export { CONTROL_TOOLS } from '../../workflows/approval-policy.js';
