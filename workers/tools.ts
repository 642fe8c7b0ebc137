// The tools service alone: workers' shell and file tools on `<task queue>-tools`, with no database,
// provider keys or adapter tokens (docs/security.md). The other workers then run with
// `[tools] service = "external"` (SPACEBOT_TOOLS_SERVICE=external). With `[temporal] encrypt_history`
// it decodes its tasks with SPACEBOT_PAYLOAD_KEY (`spacebot keys payload-key`), never the master key.
import { ConfigError, loadConfig } from '../lib/config/load.js';
import { logger } from '../lib/logger.js';
import { startToolsService, type ToolsService } from '../lib/runtime/tools-service.js';
import { SandboxPolicyError } from '../lib/sandbox/startup.js';

let service: ToolsService;
try {
  service = await startToolsService(loadConfig(), logger);
} catch (err) {
  if (err instanceof ConfigError || err instanceof SandboxPolicyError) console.error(`spacebot-tools: ${err.message}`);
  else logger.fatal({ err }, `spacebot-tools failed to start: ${(err as Error).message}`);
  process.exit(1);
}
let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  service
    .stop()
    .then(() => process.exit(0))
    .catch((err: unknown) => {
      logger.error({ err }, 'error while stopping');
      process.exit(1);
    });
};
process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));
// A Worker that dies on its own (lost connection past its retries) ends the process, so the
// container's restart policy brings it back.
service.running.then(
  () => stopping || process.exit(1),
  () => process.exit(1),
);
