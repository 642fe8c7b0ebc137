import { lstat, mkdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';

/**
 * Keeps model-given paths inside the agent's workspace. A path is refused when it leaves the workspace
 * by `..`, by being absolute elsewhere, or through a symlink (also a dangling one, which a write would
 * follow). The check resolves every symlink along the path, so `link/secret` with `link -> /etc` is
 * caught even though `link/secret` itself looks local.
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

/** More symlink hops than this is a loop (Linux gives up at 40 as well). */
const MAX_SYMLINK_HOPS = 40;

/** Creates the workspace when missing and returns its real path (symlinks resolved). */
export async function ensureWorkspace(root: string): Promise<string> {
  if (!path.isAbsolute(root)) throw new Error(`the workspace must be an absolute path, got "${root}"; fix the agent's workspace setting`);
  await mkdir(root, { recursive: true });
  return realpath(root);
}

export interface ConfinedPath {
  /** Real absolute path of the target (every existing symlink resolved); use this for file system calls. */
  absolute: string;
  /** The same path relative to the workspace ("." for the workspace itself), for messages to the model. */
  relative: string;
  /** Real path of the workspace. */
  root: string;
}

/**
 * Resolves `requested` (relative to the workspace, or absolute inside it) to a real path inside the
 * workspace, or throws WorkspaceEscapeError. The target itself need not exist.
 */
export async function resolveInWorkspace(workspace: string, requested: string): Promise<ConfinedPath> {
  const root = await ensureWorkspace(workspace);
  if (requested.includes('\0')) throw new WorkspaceEscapeError(requested, workspace, 'contains a NUL byte, which no file name may');
  const given = requested.trim() === '' ? '.' : requested;
  const lexical = path.isAbsolute(given) ? path.resolve(given) : path.resolve(workspace, given);
  // An absolute path may name the workspace by its configured path or by its real one.
  if (!isInside(lexical, path.resolve(workspace)) && !isInside(lexical, root)) {
    throw new WorkspaceEscapeError(requested, workspace, path.isAbsolute(given) ? 'is absolute and outside the workspace' : 'leads out of the workspace through ".."');
  }
  const real = await resolveReal(lexical, 0);
  if (!isInside(real, root)) throw new WorkspaceEscapeError(requested, workspace, `resolves through a symlink to ${real}, outside the workspace`);
  return { absolute: real, relative: path.relative(root, real) || '.', root };
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

/**
 * The real path of `p`, following symlinks also where the final target does not exist yet (a dangling
 * link is followed to where a write would create the file).
 */
async function resolveReal(p: string, hops: number): Promise<string> {
  if (hops > MAX_SYMLINK_HOPS) throw new Error(`too many symlinks while resolving ${p} (a symlink loop?)`);
  try {
    return await realpath(p);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
  const parent = path.dirname(p);
  if (parent === p) return p;
  const realParent = await resolveReal(parent, hops + 1);
  const candidate = path.join(realParent, path.basename(p));
  let isLink: boolean;
  try {
    isLink = (await lstat(candidate)).isSymbolicLink();
  } catch (err) {
    if (isMissing(err)) return candidate;
    throw err;
  }
  if (!isLink) return candidate;
  return resolveReal(path.resolve(realParent, await readlink(candidate)), hops + 1);
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
