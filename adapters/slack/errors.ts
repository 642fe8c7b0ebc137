import { webApi } from '@slack/bolt';
import { PlatformError } from '../platform-error.js';
import type { Scrubber } from './scrub.js';

/**
 * Slack Web API errors that no retry can fix: the token, the app's scopes or the target is wrong.
 * Slack answers these with HTTP 200 and `ok: false`, so the status PlatformError carries is ours.
 */
const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'no_permission', 'ekm_access_denied']);
const PERMISSION_ERRORS = new Set(['missing_scope', 'not_in_channel', 'channel_not_found', 'is_archived', 'restricted_action', 'not_allowed_token_type', 'team_access_not_granted', 'cant_update_message', 'edit_window_closed', 'message_not_found', 'thread_not_found']);
const INVALID_REQUEST = new Set(['invalid_arguments', 'invalid_arg_name', 'invalid_name', 'msg_too_long', 'no_text', 'too_many_attachments', 'invalid_blocks', 'invalid_thread_ts', 'invalid_form_data', 'invalid_post_type', 'invalid_charset', 'bad_timestamp']);
/** Slack's own transient failures: retrying later can help. */
const TRANSIENT = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

const HINTS: Record<string, string> = {
  invalid_auth: 'the bot token is invalid or revoked; check bot_token / SLACK_BOT_TOKEN',
  not_authed: 'no token was sent; check bot_token / SLACK_BOT_TOKEN',
  token_revoked: 'the token was revoked; reinstall the app and update the token',
  missing_scope: 'the app lacks an OAuth scope this call needs; add it and reinstall the app',
  not_in_channel: 'the bot is not a member of this channel; invite it with /invite @<bot>',
  channel_not_found: 'the channel does not exist or the bot cannot see it',
  not_allowed_token_type: 'this method needs a different token type (bot vs app-level token)',
};

/** apps.connections.open is called with the app-level token, not the bot token. */
const APP_TOKEN_HINT = 'the app-level token is invalid or lacks connections:write; check app_token / SLACK_APP_TOKEN';

/** Translates whatever @slack/web-api threw into a PlatformError the delivery activity can act on. */
export function toPlatformError(platform: string, method: string, err: unknown, scrub: Scrubber): PlatformError {
  if (err instanceof PlatformError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === webApi.ErrorCode.RateLimitedError) {
    const seconds = (err as webApi.WebAPIRateLimitedError).retryAfter;
    return PlatformError.rateLimited(platform, Math.max(0, seconds) * 1000, `Slack ${method} rate limited`);
  }
  if (code === webApi.ErrorCode.PlatformError) {
    const error = (err as webApi.WebAPIPlatformError).data.error;
    const hintText = method === 'apps.connections.open' && AUTH_ERRORS.has(error) ? APP_TOKEN_HINT : HINTS[error];
    const hint = hintText ? ` (${hintText})` : '';
    const detail = `Slack ${method} failed: ${error}${hint}`;
    if (AUTH_ERRORS.has(error)) return new PlatformError(detail, platform, 401, true);
    if (PERMISSION_ERRORS.has(error)) return new PlatformError(detail, platform, error.endsWith('_not_found') ? 404 : 403, true);
    if (INVALID_REQUEST.has(error)) return new PlatformError(detail, platform, 400, true);
    if (TRANSIENT.has(error)) return new PlatformError(detail, platform, 503, false);
    // An error code we do not know: Slack documents ok:false errors as request problems, but a new
    // transient one would be lost forever if treated as permanent, so let the retry policy decide.
    return new PlatformError(detail, platform, undefined, false);
  }
  if (code === webApi.ErrorCode.HTTPError) {
    const status = (err as webApi.WebAPIHTTPError).statusCode;
    return PlatformError.fromStatus(platform, status, `Slack ${method} failed`);
  }
  if (code === webApi.ErrorCode.RequestError) {
    const original = (err as webApi.WebAPIRequestError).original;
    return new PlatformError(scrub(`Slack ${method}: could not reach the Web API: ${original.message}`), platform, undefined, false);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new PlatformError(scrub(`Slack ${method} failed: ${message}`), platform, undefined, false);
}
