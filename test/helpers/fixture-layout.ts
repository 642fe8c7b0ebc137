import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Where recorded workflow histories live, per release:
 *
 *   test/fixtures/histories/*.json            release 0.1.0, recorded before this layout (frozen)
 *   test/fixtures/histories/<version>/*.json  recorded while package.json had that version
 *
 * Every file is frozen once recorded (see fixture-manifest.ts): old releases' histories keep being
 * replayed against the current code, and new behaviour gets new files in the current release's
 * directory.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export const HISTORY_FIXTURES_DIR = path.join(ROOT, 'test/fixtures/histories');

/** sha256sum format (`<hex>  <path relative to the histories directory>`), so `sha256sum -c` reads it too. */
export const HISTORY_MANIFEST_FILE = path.join(ROOT, 'test/fixtures/histories.sha256');

/** The release new fixtures belong to: package.json's version. */
export function currentRelease(): string {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Error(`package.json has no usable version (${JSON.stringify(version)}): fixtures are filed by release`);
  }
  return version;
}

/** The directory a release's new fixtures are written to. */
export function releaseDirectory(version: string, dir = HISTORY_FIXTURES_DIR): string {
  return path.join(dir, version);
}

/** Every history file under `dir`, of every release: paths relative to `dir` with `/`, sorted. */
export function listHistoryFixtures(dir = HISTORY_FIXTURES_DIR): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}
