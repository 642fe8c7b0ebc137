import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { moveIntoFolder } from '../../lib/ingest/move.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-move-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('moves a file into a folder it creates, without overwriting a file of the same name, and idempotently', async () => {
  const done = path.join(dir, 'done');
  writeFileSync(path.join(dir, 'notes.md'), 'first');
  expect(await moveIntoFolder(path.join(dir, 'notes.md'), done)).toBe(path.join(done, 'notes.md'));
  writeFileSync(path.join(dir, 'notes.md'), 'second');
  expect(await moveIntoFolder(path.join(dir, 'notes.md'), done)).toBe(path.join(done, 'notes (2).md'));
  // A retried move finds nothing left to move.
  expect(await moveIntoFolder(path.join(dir, 'notes.md'), done)).toBeUndefined();
  expect(readdirSync(done).sort()).toEqual(['notes (2).md', 'notes.md']);
  expect(readFileSync(path.join(done, 'notes.md'), 'utf8')).toBe('first');
  expect(readFileSync(path.join(done, 'notes (2).md'), 'utf8')).toBe('second');
});
