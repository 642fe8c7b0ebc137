import type { ApiClient } from './api-client.js';
import { table } from './table.js';

/**
 * `spacebot approvals list <agent> [--status pending]` and `spacebot approvals approve|deny <agent> <id>`:
 * the approvals supervised workers wait for (docs/security.md). A usage problem is returned as its
 * message (the caller exits with 2); the server's refusals surface as CliError (exit 1).
 */
export async function approvals(api: ApiClient, action: string, args: string[], status: string | undefined, print: (text: string) => void): Promise<string | undefined> {
  const [agent, id] = args;
  if (!agent) return `approvals ${action} needs an agent id`;
  const base = `/v1/agents/${encodeURIComponent(agent)}/approvals`;
  if (action === 'list') {
    const { body } = await api.request<{ approvals: Record<string, unknown>[] }>('GET', `${base}${status ? `?status=${encodeURIComponent(status)}` : ''}`);
    print(body.approvals.length ? table(body.approvals, ['id', 'status', 'tool', 'summary', 'worker', 'expiresAt', 'decidedBy']) : 'no approvals');
    return undefined;
  }
  if (!id) return `approvals ${action} needs an agent id and an approval id`;
  const { body } = await api.request<{ approval: { id: string; status: string; tool: string } }>('POST', `${base}/${encodeURIComponent(id)}/${action}`, { by: 'cli' });
  print(`${body.approval.status} ${body.approval.id} (${body.approval.tool})`);
  return undefined;
}
