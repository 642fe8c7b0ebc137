/**
 * How much a worker may change on its own. `full`: its tools run as called (the sandbox is what makes
 * that safe); `supervised`: each shell command and file write or edit waits for an operator's
 * approval; `readonly`: no shell and no writes at all. Pure data and functions: the workflows import
 * this file too.
 */
export const AUTONOMY_LEVELS = ['readonly', 'supervised', 'full'] as const;
export type Autonomy = (typeof AUTONOMY_LEVELS)[number];
export const DEFAULT_AUTONOMY: Autonomy = 'full';

/** Tools that change the workspace or run programs: gone in readonly, gated in supervised. */
export const WRITE_TOOLS: readonly string[] = ['shell', 'file_write', 'file_edit'];

export function isWriteTool(name: string): boolean {
  return WRITE_TOOLS.includes(name);
}

export function isAutonomy(value: unknown): value is Autonomy {
  return typeof value === 'string' && (AUTONOMY_LEVELS as readonly string[]).includes(value);
}

/** The more restrictive of two levels (readonly < supervised < full). */
export function strictest(levels: readonly Autonomy[]): Autonomy {
  let best: Autonomy = 'full';
  for (const level of levels) if (AUTONOMY_LEVELS.indexOf(level) < AUTONOMY_LEVELS.indexOf(best)) best = level;
  return best;
}
