/**
 * Child-process entry of lib/temporal/workflow-bundle.ts: `<entry> <out file>`. Bundles the workflows
 * with the SDK's bundler and writes the code to a temporary file renamed into place, so a reader (or
 * another worker process bundling the same version at once) never sees half a bundle. Exits 0 on
 * success; on failure the error goes to stderr, which the parent puts in its message.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';

const [entry, outFile] = process.argv.slice(2);
if (!entry || !outFile) {
  process.stderr.write('usage: bundle-workflows-process <workflows entry> <out file>\n');
  process.exit(2);
}

// The bundler reports what failed (a missing module, a disallowed import) in the webpack output it
// logs, and throws only "Webpack finished with errors": on failure the parent gets the "ERROR in"
// entries (each with its first line of detail), the message it puts in its own error.
const logged: string[] = [];
const keep = (message: string) => void logged.push(message);
const logger = { log: keep, trace() {}, debug() {}, info: keep, warn: keep, error: keep };
try {
  const bundle = await bundleWorkflowCode({ workflowsPath: entry, logger });
  const tmp = `${outFile}.${process.pid}.tmp`;
  writeFileSync(tmp, bundle.code, { mode: 0o600 });
  renameSync(tmp, outFile);
} catch (err) {
  const errors = logged.join('\n').match(/^ERROR in .*\n.*$/gm) ?? [];
  process.stderr.write(`${[...errors.slice(0, 5), (err as Error).message].join('\n')}\n`);
  process.exit(1);
}
