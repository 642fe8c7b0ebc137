import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkspaceEscapeError } from '../../lib/tools/workspace/confine.js';
import { withWorkspace } from '../../lib/tools/workspace/confined-files.js';
import { makeFileTools } from '../../lib/tools/workspace/file-tools.js';
import { callTool, context, scratch, type Scratch } from './helpers.js';

let s: Scratch;
const { fileRead, fileWrite, fileList, fileEdit } = makeFileTools();

beforeEach(() => {
  s = scratch();
  mkdirSync(s.workspace, { recursive: true });
  mkdirSync(s.outside, { recursive: true });
  writeFileSync(path.join(s.outside, 'secret.txt'), 'top secret\n');
});

afterEach(() => s.remove());

/** Where a path lands beneath the workspace (relative to it), or the refusal. */
function resolveInWorkspace(workspace: string, requested: string) {
  return withWorkspace(workspace, async (ws) => ({ relative: (await ws.locate(requested)).relative, root: ws.root }));
}

describe('locating paths beneath the workspace', () => {
  it('creates a missing workspace and resolves relative paths inside it', async () => {
    const fresh = path.join(s.dir, 'new-workspace');
    mkdirSync(path.join(fresh, 'notes'), { recursive: true });
    const target = await resolveInWorkspace(fresh, 'notes/todo.md');
    expect(existsSync(fresh)).toBe(true);
    expect(target.root).toBe(fresh);
    expect(target.relative).toBe('notes/todo.md');
  });

  it('accepts ".." that stays inside and absolute paths inside the workspace', async () => {
    mkdirSync(path.join(s.workspace, 'a'));
    expect((await resolveInWorkspace(s.workspace, 'a/../b.txt')).relative).toBe('b.txt');
    expect((await resolveInWorkspace(s.workspace, path.join(s.workspace, 'c.txt'))).relative).toBe('c.txt');
    expect((await resolveInWorkspace(s.workspace, '.')).relative).toBe('.');
    expect((await resolveInWorkspace(s.workspace, '..foo')).relative).toBe('..foo');
  });

  it('refuses ".." traversal out of the workspace, naming the path and the workspace', async () => {
    const err = await resolveInWorkspace(s.workspace, '../outside/secret.txt').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceEscapeError);
    expect((err as Error).message).toContain('"../outside/secret.txt"');
    expect((err as Error).message).toContain('leads out of the workspace through ".."');
    expect((err as Error).message).toContain(s.workspace);
    await expect(resolveInWorkspace(s.workspace, '../x')).rejects.toThrow(WorkspaceEscapeError);
    mkdirSync(path.join(s.workspace, 'a'));
    await expect(resolveInWorkspace(s.workspace, 'a/../../x')).rejects.toThrow(WorkspaceEscapeError);
  });

  it('refuses absolute paths outside the workspace', async () => {
    await expect(resolveInWorkspace(s.workspace, '/etc/passwd')).rejects.toThrow(/Refused path "\/etc\/passwd": it is absolute and outside the workspace/);
  });

  it('refuses paths through a symlink that points outside, also a dangling one', async () => {
    symlinkSync(s.outside, path.join(s.workspace, 'link'));
    symlinkSync(path.join(s.outside, 'not-yet.txt'), path.join(s.workspace, 'dangling'));
    await expect(resolveInWorkspace(s.workspace, 'link/secret.txt')).rejects.toThrow(/resolves through a symlink/);
    await expect(resolveInWorkspace(s.workspace, 'link')).rejects.toThrow(WorkspaceEscapeError);
    await expect(resolveInWorkspace(s.workspace, 'link/new/deeper.txt')).rejects.toThrow(WorkspaceEscapeError);
    await expect(resolveInWorkspace(s.workspace, 'dangling')).rejects.toThrow(WorkspaceEscapeError);
    // A relative link climbing out is refused too, not clamped at the workspace's top.
    symlinkSync('../../../../../../etc', path.join(s.workspace, 'climb'));
    await expect(resolveInWorkspace(s.workspace, 'climb/passwd')).rejects.toThrow(/resolves through a symlink to \/etc, outside the workspace/);
  });

  it('follows symlinks that stay inside the workspace', async () => {
    mkdirSync(path.join(s.workspace, 'real'));
    symlinkSync('real', path.join(s.workspace, 'alias'));
    expect((await resolveInWorkspace(s.workspace, 'alias/file.txt')).relative).toBe('real/file.txt');
    symlinkSync(path.join(s.workspace, 'real'), path.join(s.workspace, 'absolute-alias'));
    expect((await resolveInWorkspace(s.workspace, 'absolute-alias/file.txt')).relative).toBe('real/file.txt');
  });
});

describe('file tools stay inside the workspace', () => {
  beforeEach(() => symlinkSync(s.outside, path.join(s.workspace, 'link')));

  it('file_read refuses traversal, absolute paths and symlink escapes', async () => {
    const ctx = context(s.workspace);
    await expect(callTool(fileRead, { path: '../outside/secret.txt' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
    await expect(callTool(fileRead, { path: '/etc/passwd' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
    await expect(callTool(fileRead, { path: 'link/secret.txt' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
  });

  it('file_write refuses a symlink escape and writes nothing outside', async () => {
    const ctx = context(s.workspace);
    await expect(callTool(fileWrite, { path: 'link/secret.txt', content: 'pwned' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
    await expect(callTool(fileWrite, { path: 'link/planted.txt', content: 'x' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
    await expect(callTool(fileWrite, { path: '../outside/planted.txt', content: 'x' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
    expect(readFileSync(path.join(s.outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
    expect(existsSync(path.join(s.outside, 'planted.txt'))).toBe(false);
  });

  it('file_edit refuses a symlink escape and leaves the target unchanged', async () => {
    await expect(callTool(fileEdit, { path: 'link/secret.txt', old_text: 'top', new_text: 'no' }, context(s.workspace))).rejects.toThrow(WorkspaceEscapeError);
    expect(readFileSync(path.join(s.outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
  });

  it('file_list refuses listing through the symlink and shows the link itself without following it', async () => {
    const ctx = context(s.workspace);
    await expect(callTool(fileList, { path: 'link' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
    await expect(callTool(fileList, { path: '..' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
    const listing = await callTool(fileList, { depth: 5 }, ctx);
    expect(listing.split('\n')).toEqual(['link@']);
  });

  it('file_read, file_edit and file_write refuse a hard link to a file outside, which stays unchanged', async () => {
    const ctx = context(s.workspace);
    linkSync(path.join(s.outside, 'secret.txt'), path.join(s.workspace, 'hl'));
    await expect(callTool(fileRead, { path: 'hl' }, ctx)).rejects.toThrow(/"hl" has 2 hard links; the file tools refuse hard-linked files/);
    await expect(callTool(fileEdit, { path: 'hl', old_text: 'top', new_text: 'no' }, ctx)).rejects.toThrow(/hard links/);
    await expect(callTool(fileWrite, { path: 'hl', content: 'pwned' }, ctx)).rejects.toThrow(/hard links/);
    expect(readFileSync(path.join(s.outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
  });

  it('file_write refuses a dangling symlink out and a FIFO, and creates nothing outside', async () => {
    const ctx = context(s.workspace);
    symlinkSync(path.join(s.outside, 'new.txt'), path.join(s.workspace, 'out-link'));
    await expect(callTool(fileWrite, { path: 'out-link', content: 'x' }, ctx)).rejects.toThrow(WorkspaceEscapeError);
    expect(existsSync(path.join(s.outside, 'new.txt'))).toBe(false);
    execFileSync('mkfifo', [path.join(s.workspace, 'pipe')]);
    await expect(callTool(fileRead, { path: 'pipe' }, ctx)).rejects.toThrow(/not a regular file/);
    await expect(callTool(fileWrite, { path: 'pipe', content: 'x' }, ctx)).rejects.toThrow(/not a regular file/);
  });

  it('the tools say so when no workspace is set', async () => {
    await expect(callTool(fileRead, { path: 'a.txt' }, context(s.workspace, { workspace: undefined }))).rejects.toThrow(/no workspace is set/);
  });
});
