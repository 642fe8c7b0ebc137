// The tools service alone: workers' shell and file tools on `<task queue>-tools`, with no database,
// provider keys or adapter tokens (docs/security.md). The other workers then run with
// `[tools] service = "external"` (SPACEBOT_TOOLS_SERVICE=external). With `[temporal] encrypt_history`
// it decodes its tasks with SPACEBOT_PAYLOAD_KEY (`spacebot keys payload-key`), never the master key.
import { loadConfig } from '../lib/config/load.js';
import { logger } from '../lib/logger.js';
import { startToolsService } from '../lib/runtime/tools-service.js';
import { startUntilSignalled } from './lifecycle.js';

const { service, stopping } = await startUntilSignalled('spacebot-tools', () => startToolsService(loadConfig(), logger));
// A Worker that dies on its own (lost connection past its retries) ends the process, so the
// container's restart policy brings it back.
service.running.then(
  () => stopping() || process.exit(1),
  () => process.exit(1),
);
