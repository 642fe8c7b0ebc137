/**
 * `npm run fixtures:freeze`: adds newly recorded workflow histories (test/fixtures/histories/<version>/)
 * to the committed manifest of SHA-256s. Entries already frozen are never changed: a changed or deleted
 * fixture makes it refuse, naming the file and what to do instead.
 */
import path from 'node:path';
import { HISTORY_FIXTURES_DIR, HISTORY_MANIFEST_FILE } from '../test/helpers/fixture-layout.js';
import { freezeNewFixtures } from '../test/helpers/fixture-manifest.js';

try {
  const added = freezeNewFixtures(HISTORY_FIXTURES_DIR, HISTORY_MANIFEST_FILE);
  const manifest = path.relative(process.cwd(), HISTORY_MANIFEST_FILE);
  if (!added.length) process.stdout.write(`every fixture is already in ${manifest}\n`);
  for (const file of added) process.stdout.write(`frozen ${file}\n`);
  if (added.length) process.stdout.write(`${added.length} fixture(s) added to ${manifest}: commit it with them\n`);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
