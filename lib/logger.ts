import { pino, type Logger } from 'pino';

/**
 * The process-wide structured logger. Level from LOG_LEVEL (default info; tests default to warn so
 * jest output stays readable). Secrets never reach it: redaction covers the usual header and key names.
 */
export function createLogger(name = 'spacebot', level = process.env.LOG_LEVEL): Logger {
  return pino({
    name,
    level: level ?? (process.env.JEST_WORKER_ID ? 'warn' : 'info'),
    redact: {
      paths: ['*.apiKey', '*.token', '*.authorization', '*.headers.authorization', 'config.providers.*.apiKey'],
      censor: '[redacted]',
    },
  });
}

export const logger: Logger = createLogger();
export type { Logger };
