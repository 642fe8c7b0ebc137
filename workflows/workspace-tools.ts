/**
 * The worker tools that touch only the agent's workspace (shell and the file tools). The worker workflow
 * sends these to the tools task queue's `runWorkspaceTool` activity, which holds no database, provider
 * key or adapter token, so a shell command steered by a hostile user finds nothing there to steal. Every
 * other worker tool (memory tools) needs the database and runs on the main queue. A plain list here,
 * because workflows may not import the tools' code; test/security/tools-service.test.ts checks it
 * against lib/tools/workspace.
 */
export const WORKSPACE_TOOL_NAMES: readonly string[] = ['shell', 'file_read', 'file_write', 'file_edit', 'file_list'];

export function isWorkspaceTool(name: string): boolean {
  return WORKSPACE_TOOL_NAMES.includes(name);
}
