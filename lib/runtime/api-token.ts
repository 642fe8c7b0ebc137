import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The shortest bearer token the API accepts, after trimming. A generated token is exactly this long
 * (24 random bytes in base64url); anything shorter is guessable, and an empty one would let every
 * request in (issue 13: an empty `data/api-token` turned authentication off).
 */
export const MIN_API_TOKEN_LENGTH = 32;

/** A token that is missing, blank or too short: start-up stops with this one line (workers/run.ts). */
export class ApiTokenError extends Error {
  override name = 'ApiTokenError';
}

/**
 * The API's bearer token, trimmed: SPACEBOT_API_TOKEN when set; else one generated on first start and
 * kept in `<dataDir>/api-token` (mode 0600), so a newcomer's API is never open and the token survives
 * restarts. Throws ApiTokenError, naming where the token came from, when it is shorter than
 * MIN_API_TOKEN_LENGTH: the API fails closed rather than running with a weak or empty token.
 */
export function resolveApiToken(configured: string | undefined, dataDir: string): { token: string; generatedFile?: string } {
  if (configured !== undefined) {
    return { token: strongApiToken(configured, 'SPACEBOT_API_TOKEN', 'set a longer one (e.g. `openssl rand -base64 32`), or unset it to use a generated token') };
  }
  const file = path.join(dataDir, 'api-token');
  if (existsSync(file)) {
    const fix = `delete ${file} to have a new one generated at the next start, or write a token of at least ${MIN_API_TOKEN_LENGTH} characters into it`;
    return { token: strongApiToken(readFileSync(file, 'utf8'), file, fix), generatedFile: file };
  }
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, generatedFile: file };
}

/** The trimmed token, or an ApiTokenError naming `source` and `fix` when it is too short. */
export function strongApiToken(token: string, source: string, fix: string): string {
  const trimmed = token.trim();
  if (trimmed.length < MIN_API_TOKEN_LENGTH) {
    const what = trimmed.length === 0 ? 'empty' : `only ${trimmed.length} characters long`;
    throw new ApiTokenError(`the API token in ${source} is ${what}; it needs at least ${MIN_API_TOKEN_LENGTH}: ${fix}.`);
  }
  return trimmed;
}
