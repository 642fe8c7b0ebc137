import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The API's bearer token: SPACEBOT_API_TOKEN when set; else one generated on first start and kept in
 * `<dataDir>/api-token` (mode 0600), so a newcomer's API is never open and the token survives restarts.
 */
export function resolveApiToken(configured: string | undefined, dataDir: string): { token: string; generatedFile?: string } {
  if (configured) return { token: configured };
  const file = path.join(dataDir, 'api-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), generatedFile: file };
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, generatedFile: file };
}
