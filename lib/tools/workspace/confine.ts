import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';

/**
 * The workspace boundary: its refusal, its creation, and the lexical "inside" test. Paths are opened
 * beneath it by ConfinedWorkspace (./confined-files.ts), which refuses a path that leaves the workspace
 * by `..`, by being absolute elsewhere, or through a symlink (also a dangling one, which a write would
 * follow), without a gap between check and use.
 */
export class WorkspaceEscapeError extends Error {
  override name = 'WorkspaceEscapeError';
  constructor(
    readonly requested: string,
    readonly workspace: string,
    readonly reason: string,
  ) {
    super(`Refused path "${requested}": it ${reason}. The workspace is ${workspace}; use a path inside it, relative to it (e.g. "notes/todo.md").`);
  }
}

/** Creates the workspace when missing and returns its real path (symlinks resolved). */
export async function ensureWorkspace(root: string): Promise<string> {
  if (!path.isAbsolute(root)) throw new Error(`the workspace must be an absolute path, got "${root}"; fix the agent's workspace setting`);
  await mkdir(root, { recursive: true });
  return realpath(root);
}

/** True when `candidate` is `root` or below it (both absolute and normalised). */
export function isInside(candidate: string, root: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!isParentStep(rel) && !path.isAbsolute(rel));
}

/** `..`, `../x`: a real step up (as opposed to a file named `..foo`). */
function isParentStep(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${path.sep}`);
}
