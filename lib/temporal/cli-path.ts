import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type TemporalCliSource = 'TEMPORAL_CLI_PATH' | 'tools-dir' | 'PATH' | 'sdk-cache';

export interface TemporalCli {
  path: string;
  source: TemporalCliSource;
}

type Env = NodeJS.ProcessEnv;

const EXE_NAME = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

/**
 * Prefix of the CLI the Temporal TypeScript SDK's ephemeral server downloads (sdk-core
 * `EphemeralExe::CachedDownload`: `<temp dir>/temporal-<sdkName>-<sdkVersion>[.exe]`, sdkName
 * `sdk-typescript`). The test server is `temporal-test-server-sdk-typescript-*` and does not match.
 */
const SDK_CACHE_PREFIX = 'temporal-sdk-typescript-';
/** sdk-core writes the download here first and renames it when complete. */
const PARTIAL_DOWNLOAD_SUFFIX = '.downloading';

/** Where `npm run setup:temporal` installs tools; must match scripts/setup-temporal.sh. */
export function defaultToolsDir(env: Env = process.env): string {
  if (env.SPACEBOT_TOOLS_DIR) return env.SPACEBOT_TOOLS_DIR;
  return path.join(env.HOME || os.homedir(), '.cache', 'spacebot', 'bin');
}

/**
 * Finds a temporal CLI, first match wins: TEMPORAL_CLI_PATH, the Spacebot tools dir, PATH, then a
 * binary the Temporal TypeScript SDK already downloaded (saves a build when tests ran before).
 * Returns undefined when there is none; throws when TEMPORAL_CLI_PATH is set but unusable, because
 * falling back silently would run a binary the user explicitly did not choose.
 */
export async function findTemporalCli(env: Env = process.env): Promise<TemporalCli | undefined> {
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (await isExecutableFile(explicit)) return { path: explicit, source: 'TEMPORAL_CLI_PATH' };
    throw new Error(`TEMPORAL_CLI_PATH is set to ${explicit}, but that is not an executable file. Fix or unset it.`);
  }
  const toolsDirCli = path.join(defaultToolsDir(env), EXE_NAME);
  if (await isExecutableFile(toolsDirCli)) return { path: toolsDirCli, source: 'tools-dir' };

  const onPath = await findOnPath(env.PATH ?? '');
  if (onPath) return { path: onPath, source: 'PATH' };

  const cached = await findSdkCachedCli(env);
  if (cached) return { path: cached, source: 'sdk-cache' };
  return undefined;
}

/** The error text for when findTemporalCli comes back empty. */
export function missingCliMessage(): string {
  return (
    'No temporal CLI found (looked at TEMPORAL_CLI_PATH, ' +
    `${path.join(defaultToolsDir(), EXE_NAME)}, PATH and the Temporal SDK download cache). ` +
    'Run `npm run setup:temporal` to build it (needs Go), or set TEMPORAL_CLI_PATH to an installed ' +
    'temporal binary, or set TEMPORAL_ADDRESS (e.g. 127.0.0.1:7233) to use an already running Temporal server.'
  );
}

async function isExecutableFile(file: string): Promise<boolean> {
  return (await executableFileMtime(file)) !== undefined;
}

/** mtime of `file` if it is an executable regular file, else undefined (never throws). */
async function executableFileMtime(file: string): Promise<number | undefined> {
  try {
    // access(X_OK) alone is true for directories, hence the stat.
    const info = await stat(file);
    if (!info.isFile()) return undefined;
    await access(file, constants.X_OK);
    return info.mtimeMs;
  } catch {
    return undefined;
  }
}

async function findOnPath(pathVar: string): Promise<string | undefined> {
  // Empty entries mean "current directory" to a shell; never pick up a binary from cwd implicitly.
  const dirs = pathVar.split(path.delimiter).filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, EXE_NAME);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The temp dir sdk-core downloads into. Rust's `std::env::temp_dir()` reads only TMPDIR on Unix (not
 * TMP/TEMP as Node's os.tmpdir() does), so mirror that; taking it from `env` also lets tests isolate it.
 */
function sdkDownloadDir(env: Env): string {
  if (process.platform === 'win32') return os.tmpdir();
  return env.TMPDIR || '/tmp';
}

/** Newest complete SDK download, so a newer SDK's CLI wins over a stale one. */
async function findSdkCachedCli(env: Env): Promise<string | undefined> {
  const dir = sdkDownloadDir(env);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const candidates = names
    .filter((name) => name.startsWith(SDK_CACHE_PREFIX) && !name.endsWith(PARTIAL_DOWNLOAD_SUFFIX))
    .map((name) => path.join(dir, name));
  let best: { file: string; mtimeMs: number } | undefined;
  for (const file of candidates) {
    const mtimeMs = await executableFileMtime(file);
    if (mtimeMs !== undefined && (!best || mtimeMs > best.mtimeMs)) best = { file, mtimeMs };
  }
  return best?.file;
}
