import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { AgentConfig, SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { sha256Hex } from './chunk.js';
import { getIngestStatus, ingestDirs, registerRefusedFile, validFilename } from './files.js';
import { fileTooLarge } from './limits.js';
import { moveIntoFolder } from './move.js';
import { startIngestion } from './start.js';
import { isSupportedFile } from './text.js';

/** How often each agent's `<workspace>/ingest/` is looked at. */
export const INGEST_POLL_MS = 3_000;

export interface IngestWatcherOptions {
  config: SpacebotConfig;
  db: Kysely<Database>;
  client: Client;
  logger: Logger;
  intervalMs?: number;
}

interface Seen {
  size: number;
  mtimeMs: number;
  /** The content hash once an ingestion was started (or found done) for this version of the file. */
  handled?: string;
}

/**
 * Polls `<workspace>/ingest/` of every agent and starts an ingestion workflow for each new file once
 * it is stable (same size and modification time on two polls in a row, so a file still being copied
 * is left alone). The workflow moves the file to `ingest/done/` when it is finished; a file whose
 * bytes were ingested before is moved there at once. Files in sub-folders (done/, failed/), hidden
 * files and unsupported kinds are ignored (the latter with one warning each).
 */
export class IngestWatcher {
  private readonly seen = new Map<string, Seen>();
  private readonly warned = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly opts: IngestWatcherOptions) {
    this.log = opts.logger.child({ component: 'ingest-watcher' });
  }

  start(): void {
    const interval = this.opts.intervalMs ?? INGEST_POLL_MS;
    const tick = () => {
      this.polling = this.pollOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.log.error({ err }, 'ingest folder poll failed; trying again at the next poll'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, interval);
        });
    };
    this.timer = setTimeout(tick, interval);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /** One look at every agent's folder; resolves with the files it started (or found done). */
  async pollOnce(): Promise<string[]> {
    const acted: string[] = [];
    const present = new Set<string>();
    for (const agent of this.opts.config.agents) {
      for (const file of await this.candidates(agent)) {
        present.add(file);
        if (await this.consider(agent, file)) acted.push(file);
      }
    }
    for (const file of this.seen.keys()) if (!present.has(file)) this.seen.delete(file);
    return acted;
  }

  private async candidates(agent: AgentConfig): Promise<string[]> {
    const { inbox } = ingestDirs(agent);
    let entries;
    try {
      entries = await readdir(inbox, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const files: string[] = [];
    for (const e of entries) {
      if (!e.isFile() || e.name.startsWith('.')) continue;
      const file = path.join(inbox, e.name);
      if (!isSupportedFile(e.name) || validFilename(e.name)) {
        if (!this.warned.has(file)) this.log.warn({ agent: agent.id, file }, 'not ingested: only .txt, .md, .markdown and .pdf files are read');
        this.warned.add(file);
        continue;
      }
      files.push(file);
    }
    return files.sort();
  }

  /** True when an ingestion was started (or the file was found already ingested) on this poll. */
  private async consider(agent: AgentConfig, file: string): Promise<boolean> {
    let info;
    try {
      info = await stat(file);
    } catch {
      return false; // gone between the listing and now (the workflow moved it)
    }
    const before = this.seen.get(file);
    if (!before || before.size !== info.size || before.mtimeMs !== info.mtimeMs) {
      this.seen.set(file, { size: info.size, mtimeMs: info.mtimeMs });
      return false;
    }
    if (before.handled) return false;
    const maxBytes = this.opts.config.ingest.maxFileBytes;
    if (info.size > maxBytes) {
      // Never read into memory: hashed as a stream, recorded as failed with the reason, moved aside.
      const sha = await sha256OfFile(file);
      const reason = fileTooLarge(info.size, maxBytes);
      await registerRefusedFile(this.opts.db, { agentId: agent.id, fileSha256: sha, filename: path.basename(file), source: 'folder', sizeBytes: info.size }, reason);
      const moved = await moveIntoFolder(file, ingestDirs(agent).failed);
      this.log.warn({ agent: agent.id, file, movedTo: moved, bytes: info.size }, `not ingested: ${reason}`);
      before.handled = sha;
      return true;
    }
    const bytes = await readFile(file);
    const sha = sha256Hex(bytes);
    const existing = await getIngestStatus(this.opts.db, agent.id, sha);
    if (existing?.status === 'done') {
      const moved = await moveIntoFolder(file, ingestDirs(agent).done);
      this.log.info({ agent: agent.id, file, movedTo: moved, sha256: sha }, 'already ingested: moved to done/ without reading it again');
      before.handled = sha;
      return true;
    }
    if (existing && existing.status !== 'failed' && existing.filename !== path.basename(file)) {
      // The same bytes under another name are being ingested: this copy waits, and is moved once that is done.
      return false;
    }
    const started = await startIngestion(this.opts.client, this.opts.db, this.opts.config, {
      agentId: agent.id,
      fileSha256: sha,
      filename: path.basename(file),
      source: 'folder',
      sizeBytes: bytes.byteLength,
    });
    before.handled = sha;
    this.log.info({ agent: agent.id, file, sha256: sha, workflowId: started.workflowId, duplicate: started.duplicate }, 'ingestion started for a dropped file');
    return true;
  }
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
