import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ensureWorkspace, isInside, WorkspaceEscapeError } from './confine.js';

/**
 * Opens model-given paths beneath the workspace without a check-then-use gap: every component is
 * opened relative to the already-open directory before it (`/proc/self/fd/<dir>/<name>` is openat on
 * Linux) with O_NOFOLLOW, so nothing swapped in between a check and the open can lead outside.
 * Symlinks are resolved here, one hop at a time, and followed only while they stay inside. A regular
 * file with more than one hard link is refused: its other name may be anywhere (a hard link to
 * /etc/passwd looks like any local file). Types and link counts are checked with fstat on the opened
 * descriptor, the very file that is then read or written.
 */

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** More symlink hops than this is a loop (Linux gives up at 40 as well). */
const MAX_SYMLINK_HOPS = 40;

/** A path as the model gave it, located beneath the workspace: its directory open, its last name not yet. */
export interface Located {
  /** The open directory holding the target (the workspace itself for a top-level name). */
  dir: FileHandle;
  /** The target's name in `dir`; null when the path is the workspace itself. */
  name: string | null;
  /** The path relative to the workspace ("." for the workspace), symlinks resolved, for messages. */
  relative: string;
}

/** The descriptor path naming `name` inside the open directory `dir` (the directory itself without a name). */
function at(dir: FileHandle, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dir.fd}` : `/proc/self/fd/${dir.fd}/${name}`;
}

/**
 * One tool call's view of the workspace; every descriptor it opens is closed by close(). Use through
 * withWorkspace.
 */
export class ConfinedWorkspace {
  private readonly handles: FileHandle[] = [];

  private constructor(
    /** The workspace as configured (messages, and absolute paths naming it). */
    readonly configured: string,
    /** Its real path. */
    readonly root: string,
    private readonly rootDir: FileHandle,
  ) {
    this.handles.push(rootDir);
  }

  static async open(workspace: string): Promise<ConfinedWorkspace> {
    if (process.platform !== 'linux') throw new Error('the file tools need Linux (/proc/self/fd) to open paths safely beneath the workspace');
    const root = await ensureWorkspace(workspace);
    // The operator's workspace path itself is trusted; from here on only descriptors are followed.
    const rootDir = await open(root, O_RDONLY | O_DIRECTORY);
    return new ConfinedWorkspace(workspace, root, rootDir);
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.splice(0).map((h) => h.close().catch(() => undefined)));
  }

  /**
   * Walks to the directory holding `requested`. `createDirs`: missing directories on the way are made
   * (file_write). Throws WorkspaceEscapeError for any way out, and a plain Error naming the path for a
   * missing or non-directory component.
   */
  async locate(requested: string, options: { createDirs?: boolean } = {}): Promise<Located> {
    if (requested.includes('\0')) throw this.escape(requested, 'contains a NUL byte, which no file name may');
    const pending = this.components(requested);
    let dirs: FileHandle[] = [this.rootDir];
    let names: string[] = [];
    let hops = 0;
    for (;;) {
      const name = pending.shift();
      if (name === undefined) {
        // The workspace itself, or a path that ended in ".." back inside it.
        if (!names.length) return { dir: this.rootDir, name: null, relative: '.' };
        // Re-enter from the parent, so the caller opens the last name itself.
        const last = names.pop()!;
        dirs.pop();
        return { dir: dirs[dirs.length - 1]!, name: last, relative: [...names, last].join('/') };
      }
      if (name === '..') {
        if (!names.length) throw this.escape(requested, 'leads out of the workspace through ".."');
        names.pop();
        dirs.pop();
        continue;
      }
      const dir = dirs[dirs.length - 1]!;
      const info = await lstatAt(dir, name);
      if (info?.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new Error(`too many symlinks while resolving "${requested}" (a symlink loop?)`);
        const target = await readlink(at(dir, name));
        // Resolved lexically against the directories walked so far (all real, none a link), then walked again from the top.
        const resolved = target.startsWith('/') ? this.insideOrThrow(requested, target) : path.posix.normalize([...names, target].join('/'));
        if (resolved === '..' || resolved.startsWith('../')) {
          throw this.escape(requested, `resolves through a symlink to ${path.resolve(this.root, ...names, target)}, outside the workspace`);
        }
        pending.unshift(...resolved.split('/').filter((c) => c !== '' && c !== '.'));
        dirs = [this.rootDir];
        names = [];
        continue;
      }
      if (pending.length === 0) return { dir, name, relative: [...names, name].join('/') };
      if (!info) {
        if (!options.createDirs) throw new Error(`"${requested}" does not exist in the workspace ("${[...names, name].join('/')}" is missing); use file_list to see what is there`);
        await mkdir(at(dir, name)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
      } else if (!info.isDirectory()) {
        throw new Error(`"${requested}" goes through "${[...names, name].join('/')}", which is not a directory`);
      }
      const sub = await this.openDirAt(dir, name, requested);
      dirs.push(sub);
      names.push(name);
    }
  }

  /** Opens a directory entry as a directory, never through a symlink (one swapped in after the lstat fails here). */
  async openDirAt(dir: FileHandle, name: string, requested: string): Promise<FileHandle> {
    const handle = await open(at(dir, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      throw this.changed(requested, err);
    });
    this.handles.push(handle);
    return handle;
  }

  /**
   * Opens the located file for reading (`read`), reading and writing (`edit`) or writing (`write`,
   * created when missing, never truncated here). Refuses anything but a regular file with one link.
   * Resolves with the handle, its fstat and whether it was created.
   */
  async openFile(loc: Located, requested: string, mode: 'read' | 'edit' | 'write'): Promise<{ handle: FileHandle; stats: Stats; created: boolean }> {
    if (loc.name === null) throw new Error(`"${requested}" is the workspace itself, a directory; give a file path`);
    const flags = (mode === 'read' ? O_RDONLY : mode === 'edit' ? O_RDWR : O_WRONLY) | O_NOFOLLOW | O_NONBLOCK;
    let handle: FileHandle;
    let created = false;
    try {
      handle = await open(at(loc.dir, loc.name), flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && mode === 'write') {
        handle = await open(at(loc.dir, loc.name), flags | O_CREAT | O_EXCL, 0o644).catch((e: NodeJS.ErrnoException) => {
          throw this.changed(requested, e);
        });
        created = true;
      } else if (code === 'ENOENT') {
        throw new Error(`"${requested}" does not exist in the workspace; use file_list to see what is there`);
      } else if (code === 'EISDIR') {
        throw new Error(`"${requested}" is a directory; ${mode === 'read' ? 'use file_list to see its entries' : 'give a file path'}`);
      } else {
        throw this.changed(requested, err as NodeJS.ErrnoException);
      }
    }
    this.handles.push(handle);
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new Error(`"${requested}" is a directory; ${mode === 'read' ? 'use file_list to see its entries' : 'give a file path'}`);
    if (!stats.isFile()) throw new Error(`"${requested}" is not a regular file (a device, pipe or socket); the file tools only read and write regular files`);
    if (stats.nlink > 1) {
      throw new Error(
        `"${requested}" has ${stats.nlink} hard links; the file tools refuse hard-linked files, since another name of the same file may be outside the workspace. Copy it (cp) and use the copy`,
      );
    }
    return { handle, stats, created };
  }

  /** Opens the located directory (for listing). */
  async openDir(loc: Located, requested: string): Promise<FileHandle> {
    if (loc.name === null) return this.rootDir;
    const info = await lstatAt(loc.dir, loc.name);
    if (!info) throw new Error(`"${requested}" does not exist in the workspace; use file_list to see what is there`);
    if (!info.isDirectory()) throw new Error(`"${requested}" is a file, not a directory; use file_read to read it`);
    return this.openDirAt(loc.dir, loc.name, requested);
  }

  /** Entries of an open directory, sorted; the caller opens subdirectories with openDirAt. */
  async entries(dir: FileHandle) {
    const dirents = await readdir(at(dir), { withFileTypes: true });
    return dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The model's path as names relative to the workspace root (absolute paths must name the workspace). */
  private components(requested: string): string[] {
    const given = requested.trim() === '' ? '.' : requested;
    if (!path.isAbsolute(given)) return given.split('/').filter((c) => c !== '' && c !== '.');
    const rel = this.relativeToRoot(path.resolve(given));
    if (rel === undefined) throw this.escape(requested, 'is absolute and outside the workspace');
    return rel;
  }

  /** An absolute symlink target as a path below "/" standing for the workspace, or an escape. */
  private insideOrThrow(requested: string, target: string): string {
    const rel = this.relativeToRoot(path.resolve(target));
    if (rel === undefined) throw this.escape(requested, `resolves through a symlink to ${target}, outside the workspace`);
    return rel.join('/') || '.';
  }

  private relativeToRoot(absolute: string): string[] | undefined {
    // The workspace may be named by its configured path or by its real one.
    for (const base of [path.resolve(this.configured), this.root]) {
      if (isInside(absolute, base)) return path.relative(base, absolute).split(path.sep).filter(Boolean);
    }
    return undefined;
  }

  private escape(requested: string, reason: string): WorkspaceEscapeError {
    return new WorkspaceEscapeError(requested, this.configured, reason);
  }

  private changed(requested: string, err: NodeJS.ErrnoException): Error {
    if (err.code === 'ELOOP' || err.code === 'ENOTDIR' || err.code === 'EEXIST') {
      return new Error(`"${requested}" changed while it was being opened (a symlink or file was swapped in); nothing was read or written, try again`);
    }
    if (err.code === 'ENXIO') return new Error(`"${requested}" is not a regular file (a pipe or socket); the file tools only read and write regular files`);
    return err;
  }
}

/** Runs `fn` with the workspace opened, closing every descriptor afterwards. */
export async function withWorkspace<T>(workspace: string, fn: (ws: ConfinedWorkspace) => Promise<T>): Promise<T> {
  const ws = await ConfinedWorkspace.open(workspace);
  try {
    return await fn(ws);
  } finally {
    await ws.close();
  }
}

/** lstat of a name in an open directory; undefined when missing. */
async function lstatAt(dir: FileHandle, name: string): Promise<Stats | undefined> {
  try {
    return await lstat(at(dir, name));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw err;
  }
}
