import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { PlatformError } from '../platform-error.js';

/**
 * Translates what discord.js (@discordjs/rest) throws into PlatformError, so the delivery activity
 * decides retries without knowing Discord: a 429 (rejected by `rejectOnRateLimit` instead of being
 * waited out in memory) carries its retry-after, 401/403/404 and invalid requests are permanent, 5xx
 * and network failures are transient. Messages are scrubbed of the bot token.
 */
export function toPlatformError(platform: string, err: unknown, token: string, action: string): PlatformError {
  if (err instanceof PlatformError) return err;
  if (err instanceof RateLimitError) {
    const scope = err.global ? 'global rate limit' : `rate limited on ${err.route}`;
    return PlatformError.rateLimited(platform, Math.max(Math.ceil(err.retryAfter), 1), `${action}: ${scope}`);
  }
  if (err instanceof DiscordAPIError) {
    const detail = scrubToken(`${action}: ${err.message} (Discord code ${String(err.code)})`, token);
    return PlatformError.fromStatus(platform, err.status, detail);
  }
  if (err instanceof HTTPError) {
    return PlatformError.fromStatus(platform, err.status, scrubToken(`${action}: ${err.message}`, token));
  }
  const message = err instanceof Error ? err.message : String(err);
  // Network failures, timeouts (AbortError) and anything unexpected: worth another attempt.
  return new PlatformError(scrubToken(`${platform}: ${action} failed: ${message}`, token), platform, undefined, false);
}

/** Replaces every occurrence of the token (and of its Bot-prefixed header form) with [redacted]. */
export function scrubToken(text: string, token: string): string {
  if (!token) return text;
  return text.split(token).join('[redacted]');
}
