// The chat gateway alone (`npm run start:gateway`), for scale-out: it holds the platform connections
// and feeds channel workflows; workers (which post the replies) and the API run elsewhere. Run one
// gateway per bot account: Telegram allows one getUpdates consumer, Discord and Slack one session each.
import { run } from './run.js';

await run({ worker: false, api: false, gateway: true });
