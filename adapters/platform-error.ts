/**
 * A platform API's refusal, in the terms the delivery activity needs: whether trying again can help
 * and when. Adapters translate their client library's errors into this, so activities decide retries
 * without knowing Discord, Slack or Telegram.
 */
export class PlatformError extends Error {
  override readonly name = 'PlatformError';

  constructor(
    message: string,
    readonly platform: string,
    /** HTTP status (or the platform's equivalent), when there was one. */
    readonly status: number | undefined,
    /** Never retry: bad token (401), missing permission (403), unknown channel (404), invalid request. */
    readonly permanent: boolean,
    /** The platform asked us to wait this long (a 429's retry-after). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  static rateLimited(platform: string, retryAfterMs: number, detail = 'rate limited'): PlatformError {
    return new PlatformError(`${platform}: ${detail} (retry after ${retryAfterMs} ms)`, platform, 429, false, retryAfterMs);
  }

  /** The usual mapping of an HTTP status: 401/403/404 and other 4xx are permanent, 429 and 5xx are not. */
  static fromStatus(platform: string, status: number, detail: string, retryAfterMs?: number): PlatformError {
    if (status === 429) return PlatformError.rateLimited(platform, retryAfterMs ?? 1000, detail);
    const permanent = status >= 400 && status < 500 && status !== 408;
    const hint = status === 401 ? ' (the bot token is invalid or revoked)' : status === 403 ? ' (the bot lacks permission for this channel)' : '';
    return new PlatformError(`${platform}: ${detail}${hint} [HTTP ${status}]`, platform, status, permanent, retryAfterMs);
  }
}
