import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Scrubber } from './scrub.js';

/**
 * Routes the Slack libraries' logging (Bolt, Socket Mode, Web API) into pino, scrubbed of tokens.
 * Their debug output echoes raw payloads, so it is only passed on when pino itself is at debug.
 */
export function slackLogger(logger: Logger, scrub: Scrubber): SlackLogger {
  const render = (msg: unknown[]): string =>
    scrub(msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : safeJson(m))).join(' '));
  let level: LogLevel = logger.isLevelEnabled('debug') ? LogLevel.DEBUG : LogLevel.INFO;
  return {
    // The Logger interface is typed with any[] by @slack/logger.
    debug: (...msg: unknown[]) => logger.isLevelEnabled('debug') && logger.debug(render(msg)),
    info: (...msg: unknown[]) => logger.info(render(msg)),
    warn: (...msg: unknown[]) => logger.warn(render(msg)),
    error: (...msg: unknown[]) => logger.error(render(msg)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
