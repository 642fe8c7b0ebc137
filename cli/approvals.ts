import type { ApiClient } from './api-client.js';
import { table } from './table.js';

/**
 * `spacebot approvals list <agent> [--status pending]`, `spacebot approvals show <agent> <id>` and
 * `spacebot approvals approve|deny <agent> <id>`:
 * the approvals supervised workers wait for (docs/security.md). A usage problem is returned as its
 * message (the caller exits with 2); the server's refusals surface as CliError (exit 1).
 */
export async function approvals(api: ApiClient, action: string, args: string[], status: string | undefined, print: (text: string) => void): Promise<string | undefined> {
  const [agent, id] = args;
  if (!agent) return `approvals ${action} needs an agent id`;
  const base = `/v1/agents/${encodeURIComponent(agent)}/approvals`;
  if (action === 'list') {
    const { body } = await api.request<{ approvals: Record<string, unknown>[] }>('GET', `${base}${status ? `?status=${encodeURIComponent(status)}` : ''}`);
    // One line per approval: a multi-line command is shown by its first line; `show` prints it whole.
    const rows = body.approvals.map((a) => ({ ...a, summary: firstLine(String(a.summary ?? '')) }));
    print(rows.length ? table(rows, ['id', 'status', 'tool', 'summary', 'worker', 'expiresAt', 'decidedBy']) : 'no approvals');
    return undefined;
  }
  if (!id) return `approvals ${action} needs an agent id and an approval id`;
  if (action === 'show') {
    const { body } = await api.request<{ approval: { id: string; status: string; tool: string; worker: string; expiresAt: string; summary: string; input: unknown } }>(
      'GET',
      `${base}/${encodeURIComponent(id)}`,
    );
    const a = body.approval;
    // The summary writes invisible characters out as escapes; the input is the call exactly, as JSON.
    print([`${a.id} ${a.status} ${a.tool} (${a.worker}, expires ${a.expiresAt})`, a.summary, 'input:', JSON.stringify(a.input, null, 2)].join('\n'));
    return undefined;
  }
  const { body } = await api.request<{ approval: { id: string; status: string; tool: string } }>('POST', `${base}/${encodeURIComponent(id)}/${action}`, { by: 'cli' });
  print(`${body.approval.status} ${body.approval.id} (${body.approval.tool})`);
  return undefined;
}

function firstLine(text: string): string {
  const lines = text.split('\n');
  const first = lines[0]!.length > 120 ? `${lines[0]!.slice(0, 119)}…` : lines[0]!;
  return lines.length > 1 || first !== lines[0] ? `${first} (+more: approvals show)` : first;
}
