import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
import type { Logger } from '../logger.js';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Routes the Temporal SDK's own logs (worker, bundler, workflow `log`) into our pino logger. */
export function pinoTemporalLogger(logger: Logger): TemporalLogger {
  const child = logger.child({ component: 'temporal-sdk' });
  const emit = (level: LogLevel, message: string, meta?: LogMetadata) => child[LEVELS[level]](meta ?? {}, message);
  return {
    log: emit,
    trace: (m, meta) => emit('TRACE', m, meta),
    debug: (m, meta) => emit('DEBUG', m, meta),
    info: (m, meta) => emit('INFO', m, meta),
    warn: (m, meta) => emit('WARN', m, meta),
    error: (m, meta) => emit('ERROR', m, meta),
  };
}

let installed = false;

/** Installs the Temporal runtime with our logger; once per process, before the first worker. */
export function installTemporalRuntime(logger: Logger): void {
  if (installed) return;
  installed = true;
  // Core (Rust) logs are forwarded too, instead of being printed to stdout on their own.
  Runtime.install({ logger: pinoTemporalLogger(logger), telemetryOptions: { logging: { forward: {}, filter: 'WARN' } } });
}
