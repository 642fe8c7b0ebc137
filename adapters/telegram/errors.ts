import { GrammyError, HttpError } from 'grammy';
import { PlatformError } from '../platform-error.js';

/** Replaces every occurrence of the bot token (and its URL-encoded form) so it can be logged. */
export function scrubToken(text: string, token: string | undefined): string {
  if (!token) return text;
  let out = text.split(token).join('[token]');
  const encoded = encodeURIComponent(token);
  if (encoded !== token) out = out.split(encoded).join('[token]');
  return out;
}

/**
 * Translates grammY's errors into PlatformError: a 429 carries `parameters.retry_after` (seconds),
 * 401/403 and other client errors are permanent, network failures and 5xx are retried. Messages are
 * scrubbed of the token, which Telegram puts in every request URL.
 */
export function toPlatformError(platform: string, err: unknown, token: string | undefined): PlatformError {
  if (err instanceof PlatformError) return err;
  if (err instanceof GrammyError) {
    const detail = scrubToken(`${err.method} failed: ${err.description}`, token);
    const retryAfterSeconds = err.parameters.retry_after;
    if (err.error_code === 429) return PlatformError.rateLimited(platform, (retryAfterSeconds ?? 1) * 1000, detail);
    if (err.error_code === 401) return PlatformError.fromStatus(platform, 401, `${detail}; check the bot token (TELEGRAM_BOT_TOKEN or token in [adapters.telegram])`);
    return PlatformError.fromStatus(platform, err.error_code, detail);
  }
  if (err instanceof HttpError) {
    const cause = err.error instanceof Error ? `: ${err.error.message}` : '';
    return new PlatformError(scrubToken(`${platform}: ${err.message}${cause}`, token), platform, undefined, false);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new PlatformError(scrubToken(`${platform}: ${message}`, token), platform, undefined, false);
}

/** Telegram refused the HTML entities of a message; resending as plain text will succeed. */
export function isEntityParseError(err: unknown): boolean {
  return err instanceof GrammyError && err.error_code === 400 && /can't parse entities|unsupported start tag|can't find end tag/i.test(err.description);
}
