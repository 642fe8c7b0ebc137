import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveInWorkspace, WorkspaceEscapeError } from '../../lib/tools/workspace/confine.js';
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

describe('resolveInWorkspace', () => {
  it('creates a missing workspace and resolves relative paths inside it', async () => {
    const fresh = path.join(s.dir, 'new-workspace');
    const target = await resolveInWorkspace(fresh, 'notes/todo.md');
    expect(existsSync(fresh)).toBe(true);
    expect(target.absolute).toBe(path.join(fresh, 'notes', 'todo.md'));
    expect(target.relative).toBe(path.join('notes', 'todo.md'));
  });

  it('accepts ".." that stays inside and absolute paths inside the workspace', async () => {
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
  });

  it('follows symlinks that stay inside the workspace', async () => {
    mkdirSync(path.join(s.workspace, 'real'));
    symlinkSync('real', path.join(s.workspace, 'alias'));
    expect((await resolveInWorkspace(s.workspace, 'alias/file.txt')).relative).toBe(path.join('real', 'file.txt'));
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

  it('the tools say so when no workspace is set', async () => {
    await expect(callTool(fileRead, { path: 'a.txt' }, context(s.workspace, { workspace: undefined }))).rejects.toThrow(/no workspace is set/);
  });
});
