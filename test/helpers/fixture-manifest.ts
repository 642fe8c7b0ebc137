import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { currentRelease, listHistoryFixtures, releaseDirectory } from './fixture-layout.js';

/**
 * The committed SHA-256 of every recorded history. A history records what a past version of the
 * workflow code decided; re-recording it to make a workflow change replay would hide exactly the
 * non-determinism the replay check exists to catch, so a changed or deleted fixture fails the build.
 */
export type Manifest = Map<string, string>;

export interface FixtureProblem {
  /** Path relative to the histories directory. */
  file: string;
  kind: 'changed' | 'deleted' | 'unfrozen' | 'misplaced' | 'unreadable';
  message: string;
}

const WHAT_TO_DO =
  'Recorded histories are frozen: restore it from git, put the workflow change behind patched(\'<new-id>\') from @temporalio/workflow, ' +
  'and record the new behaviour as a NEW fixture (RECORD_HISTORIES=1 for just that test, then npm run fixtures:freeze).';

export function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Reads a manifest; a missing file is an empty manifest, a malformed line an error naming it. */
export function readManifest(file: string): Manifest {
  const manifest: Manifest = new Map();
  if (!existsSync(file)) return manifest;
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const m = /^([0-9a-f]{64}) {2}(\S.*)$/.exec(line);
      if (!m) throw new Error(`${file}:${i + 1}: not a "<sha256>  <path>" line: ${JSON.stringify(line.slice(0, 120))}`);
      manifest.set(m[2] as string, m[1] as string);
    });
  return manifest;
}

export function writeManifest(file: string, manifest: Manifest): void {
  const lines = [...manifest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([f, hash]) => `${hash}  ${f}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/**
 * Compares the histories under `dir` with the manifest: a listed file that is gone or whose bytes
 * differ, and a file that is not listed yet, are problems. An empty list means every fixture is as
 * it was frozen.
 */
export function checkFrozenFixtures(dir: string, manifestFile: string): FixtureProblem[] {
  const manifest = readManifest(manifestFile);
  const present = new Set(listHistoryFixtures(dir));
  const problems: FixtureProblem[] = [];
  for (const [file, hash] of manifest) {
    const full = path.join(dir, file);
    if (!present.has(file)) {
      problems.push({ file, kind: 'deleted', message: `${full} was deleted after it was frozen. ${WHAT_TO_DO}` });
    } else {
      const found = sha256Of(full);
      if (found !== hash) problems.push({ file, kind: 'changed', message: `${full} was changed after it was frozen (sha256 ${hash}, now ${found}). ${WHAT_TO_DO}` });
    }
  }
  for (const file of present) {
    if (manifest.has(file)) continue;
    problems.push(
      file.includes('/')
        ? { file, kind: 'unfrozen', message: `${path.join(dir, file)} is not in ${manifestFile}: run npm run fixtures:freeze to freeze it.` }
        : {
            file,
            kind: 'misplaced',
            message: `${path.join(dir, file)} is a new fixture at the top level, which holds only the frozen 0.1.0 set: move it to ${releaseDirectory(currentRelease(), dir)}/ (the release in package.json) and run npm run fixtures:freeze.`,
          },
    );
  }
  return problems;
}

/**
 * Adds the histories under `dir` that the manifest does not list yet, leaving every listed entry as
 * it is. Refuses (throws, changing nothing) while any fixture is changed, deleted, misplaced or not
 * a readable history. Returns the files added.
 */
export function freezeNewFixtures(dir: string, manifestFile: string): string[] {
  const found = checkFrozenFixtures(dir, manifestFile);
  const problems = found.filter((p) => p.kind !== 'unfrozen');
  const added = found.filter((p) => p.kind === 'unfrozen').map((p) => p.file);
  for (const file of added) {
    const problem = historyProblem(path.join(dir, file));
    if (problem) problems.push({ file, kind: 'unreadable', message: `${path.join(dir, file)} ${problem}` });
  }
  if (problems.length) throw new Error(`nothing frozen:\n${problems.map((p) => `- ${p.message}`).join('\n')}`);
  if (!added.length) return [];
  const manifest = readManifest(manifestFile);
  for (const file of added) manifest.set(file, sha256Of(path.join(dir, file)));
  writeManifest(manifestFile, manifest);
  return added;
}

/** Why a file is not a recorded history worth freezing (the JSON `temporal workflow show` exports), if it is not. */
function historyProblem(file: string): string | undefined {
  let history: unknown;
  try {
    history = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return `is not JSON: ${(err as Error).message}`;
  }
  const events = (history as { events?: unknown } | null)?.events;
  if (!Array.isArray(events) || !events.length) return 'has no "events": not a workflow history as `temporal workflow show --output json` exports it';
  if (!events.some((e) => (e as { eventType?: unknown }).eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED')) {
    return 'has no completed workflow task: there is no decision in it to replay';
  }
  return undefined;
}
