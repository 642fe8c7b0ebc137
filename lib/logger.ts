import { pino, type DestinationStream, type Logger } from 'pino';
import { environmentSecrets } from './security/configured-secrets.js';
import { LeakGuard, redactDeep } from './security/leak-guard.js';

/**
 * The guard every log line passes through. Until the config is loaded it knows the environment's
 * secret variables and the usual credential shapes; `setLogLeakGuard` swaps in the full one.
 */
let logGuard = new LeakGuard(environmentSecrets(process.env));

/** Makes every logger of the process (existing ones too) redact with `guard` from now on. */
export function setLogLeakGuard(guard: LeakGuard): void {
  logGuard = guard;
}

/**
 * Redacts one log call's arguments: the message, interpolation values and every string inside the
 * merged object, Error messages and stacks included (they are not enumerable, so they are copied
 * into a plain object pino's err serializer prints the same way). A clean line costs a few regex
 * scans and no copy beyond the object walk.
 */
function redactArgs(args: unknown[]): unknown[] {
  return args.map((arg) => {
    if (typeof arg === 'string') return logGuard.redact(arg).text;
    if (arg instanceof Error) return redactDeep(logGuard, errorObject(arg));
    if (arg && typeof arg === 'object') return redactDeep(logGuard, withPlainErrors(arg as Record<string, unknown>));
    return arg;
  });
}

/**
 * A copy of an error with its message, stack and cause as own, enumerable fields (so the guard walks
 * them), keeping its prototype so pino's err serializer still names its type.
 */
function errorObject(err: Error): Record<string, unknown> {
  const cause = (err as { cause?: unknown }).cause;
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Record<string, unknown>;
  Object.assign(copy, err, { message: err.message, stack: err.stack }, cause instanceof Error ? { cause: errorObject(cause) } : {});
  return copy;
}

function withPlainErrors(obj: Record<string, unknown>): Record<string, unknown> {
  if (Array.isArray(obj)) return obj;
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(obj)) {
    if (value instanceof Error) (copy ??= { ...obj })[key] = errorObject(value);
  }
  return copy ?? obj;
}

/**
 * The process-wide structured logger. Level from LOG_LEVEL (default info; tests default to warn so
 * jest output stays readable). Secrets never reach it: the usual header and key names are censored by
 * path, and every string passes the leak guard (lib/security/leak-guard.ts), so a key inside a tool's
 * error message or a URL is redacted too.
 */
export function createLogger(name = 'spacebot', level = process.env.LOG_LEVEL, destination?: DestinationStream): Logger {
  return pino({
    name,
    level: level ?? (process.env.JEST_WORKER_ID ? 'warn' : 'info'),
    redact: {
      paths: ['*.apiKey', '*.token', '*.authorization', '*.headers.authorization', 'config.providers.*.apiKey'],
      censor: '[redacted]',
    },
    hooks: {
      logMethod(args, method) {
        method.apply(this, redactArgs(args) as Parameters<typeof method>);
      },
    },
  }, destination);
}

export const logger: Logger = createLogger();
export type { Logger };
