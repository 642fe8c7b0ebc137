import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Raised for any answer the CLI cannot use; the message is what the user reads. */
export class CliError extends Error {
  override name = 'CliError';
}

export interface ApiClientOptions {
  url?: string;
  token?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * The Spacebot HTTP API as the CLI sees it. The server is SPACEBOT_URL (default the local
 * `npm start`); the token is SPACEBOT_API_TOKEN, else the one `npm start` generated in the data dir.
 */
export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string;

  constructor(options: ApiClientOptions = {}) {
    const env = options.env ?? process.env;
    this.baseUrl = (options.url ?? env.SPACEBOT_URL ?? `http://127.0.0.1:${env.SPACEBOT_PORT || '3000'}`).replace(/\/$/, '');
    this.token = options.token ?? env.SPACEBOT_API_TOKEN ?? readTokenFile(env, options.cwd ?? process.cwd());
  }

  async request<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + route, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(`cannot reach Spacebot at ${this.baseUrl} (${(err as Error).cause ?? (err as Error).message}); is it running? Set SPACEBOT_URL otherwise.`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new CliError(`${method} ${route}: the server answered ${res.status} with something that is not JSON`);
    }
    if (res.status >= 400) {
      const message = (parsed as { message?: unknown }).message;
      throw new CliError(`${method} ${route}: ${res.status} ${typeof message === 'string' ? message : text}`);
    }
    return { status: res.status, body: parsed as T };
  }
}

function readTokenFile(env: NodeJS.ProcessEnv, cwd: string): string {
  const file = path.join(path.resolve(cwd, env.SPACEBOT_DATA_DIR || 'data'), 'api-token');
  if (!existsSync(file)) throw new CliError(`no API token: set SPACEBOT_API_TOKEN, or run from the folder where npm start created ${file}`);
  return readFileSync(file, 'utf8').trim();
}
