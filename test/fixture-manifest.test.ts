import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { currentRelease, HISTORY_FIXTURES_DIR, HISTORY_MANIFEST_FILE, listHistoryFixtures, releaseDirectory } from './helpers/fixture-layout.js';
import { checkFrozenFixtures, freezeNewFixtures, readManifest } from './helpers/fixture-manifest.js';
import { writeNewFixtures } from './helpers/histories.js';

/**
 * Recorded workflow histories are frozen per release: the manifest holds each file's SHA-256, and a
 * fixture changed or deleted after it was frozen fails here (the check is run on copies to show it bites).
 */
const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the committed fixtures and their manifest in a temp dir. */
function copyOfFixtures(): { dir: string; manifest: string } {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spacebot-fixtures-'));
  temps.push(tmp);
  const dir = path.join(tmp, 'histories');
  cpSync(HISTORY_FIXTURES_DIR, dir, { recursive: true });
  const manifest = path.join(tmp, 'histories.sha256');
  cpSync(HISTORY_MANIFEST_FILE, manifest);
  return { dir, manifest };
}

const oneHistory = () => readFileSync(path.join(HISTORY_FIXTURES_DIR, 'duplicate-message.json'), 'utf8');

test('every committed fixture is exactly as it was frozen, the 0.1.0 set included', () => {
  expect(checkFrozenFixtures(HISTORY_FIXTURES_DIR, HISTORY_MANIFEST_FILE)).toEqual([]);
  const frozen = [...readManifest(HISTORY_MANIFEST_FILE).keys()];
  expect(frozen).toEqual(listHistoryFixtures());
  // The set recorded before the per-release layout stays at the top level, under its old names.
  expect(frozen).toEqual(expect.arrayContaining(['duplicate-message.json', 'continue-as-new-1.json', 'worker-crash.json', 'legacy-auth-error.json']));
});

test('a fixture changed after it was frozen fails the check, naming the file and what to do instead', () => {
  const { dir, manifest } = copyOfFixtures();
  const file = path.join(dir, 'queue-steer.json');
  // One character of a recorded event, as a re-recording would change it.
  writeFileSync(file, readFileSync(file, 'utf8').replace('"eventId": "5"', '"eventId": "6"'));
  const problems = checkFrozenFixtures(dir, manifest);
  expect(problems.map((p) => [p.file, p.kind])).toEqual([['queue-steer.json', 'changed']]);
  expect(problems[0]?.message).toContain(file);
  expect(problems[0]?.message).toMatch(/frozen.*patched\('<new-id>'\).*NEW fixture/s);
});

test('a fixture deleted after it was frozen fails the check', () => {
  const { dir, manifest } = copyOfFixtures();
  unlinkSync(path.join(dir, 'worker-crash.json'));
  const problems = checkFrozenFixtures(dir, manifest);
  expect(problems.map((p) => [p.file, p.kind])).toEqual([['worker-crash.json', 'deleted']]);
  expect(problems[0]?.message).toMatch(/restore it from git/);
});

test('fixtures:freeze adds a new release fixture and leaves every frozen entry as it was', () => {
  const { dir, manifest } = copyOfFixtures();
  const before = readManifest(manifest);
  writeNewFixtures(releaseDirectory('9.9.9', dir), 'new-behaviour', [oneHistory()]);
  expect(checkFrozenFixtures(dir, manifest).map((p) => [p.file, p.kind])).toEqual([['9.9.9/new-behaviour.json', 'unfrozen']]);

  expect(freezeNewFixtures(dir, manifest)).toEqual(['9.9.9/new-behaviour.json']);
  const after = readManifest(manifest);
  expect(after.size).toBe(before.size + 1);
  for (const [file, hash] of before) expect(after.get(file)).toBe(hash);
  expect(checkFrozenFixtures(dir, manifest)).toEqual([]);
  // Listed once; a second freeze has nothing to add.
  expect(freezeNewFixtures(dir, manifest)).toEqual([]);
});

test('fixtures:freeze refuses while a frozen fixture is changed, and changes nothing', () => {
  const { dir, manifest } = copyOfFixtures();
  writeNewFixtures(releaseDirectory('9.9.9', dir), 'new-behaviour', [oneHistory()]);
  writeFileSync(path.join(dir, 'auth-error.json'), oneHistory());
  const bytes = readFileSync(manifest);
  expect(() => freezeNewFixtures(dir, manifest)).toThrow(/nothing frozen:\n- .*auth-error\.json was changed after it was frozen/);
  expect(readFileSync(manifest)).toEqual(bytes);
});

test('a new fixture at the top level or one that is no history is refused, saying where it goes', () => {
  const { dir, manifest } = copyOfFixtures();
  writeFileSync(path.join(dir, 'recorded-by-the-old-recorder.json'), oneHistory());
  const [misplaced] = checkFrozenFixtures(dir, manifest);
  expect(misplaced).toMatchObject({ file: 'recorded-by-the-old-recorder.json', kind: 'misplaced' });
  expect(misplaced?.message).toContain(`move it to ${releaseDirectory(currentRelease(), dir)}/`);
  expect(() => freezeNewFixtures(dir, manifest)).toThrow(/recorded-by-the-old-recorder\.json is a new fixture at the top level/);

  unlinkSync(path.join(dir, 'recorded-by-the-old-recorder.json'));
  mkdirSync(releaseDirectory('9.9.9', dir));
  writeFileSync(path.join(releaseDirectory('9.9.9', dir), 'truncated.json'), oneHistory().slice(0, 500));
  writeFileSync(path.join(releaseDirectory('9.9.9', dir), 'not-a-history.json'), '{"runs": []}');
  const bytes = readFileSync(manifest);
  expect(() => freezeNewFixtures(dir, manifest)).toThrow(/not-a-history\.json has no "events".*\n.*truncated\.json is not JSON/);
  expect(readFileSync(manifest)).toEqual(bytes);
});

test('the recorder never overwrites a recorded fixture: it writes all of a name\'s runs or none', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spacebot-record-'));
  temps.push(tmp);
  const dir = releaseDirectory('9.9.9', tmp);
  expect(writeNewFixtures(dir, 'two-runs', ['{"first":1}', '{"second":2}']).map((f) => path.basename(f))).toEqual(['two-runs.json', 'two-runs-1.json']);
  // Re-recording the same scenario (now three runs): refused, the recorded two untouched, no third.
  expect(() => writeNewFixtures(dir, 'two-runs', ['{"a":1}', '{"b":2}', '{"c":3}'])).toThrow(/refusing to overwrite recorded fixture .*two-runs\.json, .*two-runs-1\.json: recorded histories are frozen/);
  expect(readFileSync(path.join(dir, 'two-runs.json'), 'utf8')).toBe('{"first":1}');
  expect(existsSync(path.join(dir, 'two-runs-2.json'))).toBe(false);
  expect(() => writeNewFixtures(dir, '../escape', ['{}'])).toThrow(/fixture name "..\/escape"/);
});

test('fixtures are listed from every release directory, and new ones go to the release in package.json', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spacebot-layout-'));
  temps.push(tmp);
  writeFileSync(path.join(tmp, 'old.json'), '{}');
  writeNewFixtures(releaseDirectory('0.2.0', tmp), 'same-name', ['{}']);
  writeNewFixtures(releaseDirectory('0.3.0', tmp), 'same-name', ['{}']);
  writeFileSync(path.join(tmp, 'notes.txt'), 'not a fixture');
  expect(listHistoryFixtures(tmp)).toEqual(['0.2.0/same-name.json', '0.3.0/same-name.json', 'old.json']);
  const { version } = JSON.parse(readFileSync(path.resolve(HISTORY_FIXTURES_DIR, '../../../package.json'), 'utf8')) as { version: string };
  expect(releaseDirectory(currentRelease())).toBe(path.join(HISTORY_FIXTURES_DIR, version));
});
