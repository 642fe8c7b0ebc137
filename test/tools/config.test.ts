import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config/load.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-tools-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(toml: string) {
  writeFileSync(path.join(dir, 'spacebot.toml'), toml);
  return loadConfig({ cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data') } });
}

describe('[tools] config', () => {
  it('defaults to the bwrap sandbox without network, with its resource limits, tools run here, a 60 s shell timeout and a 50 KB output cap', () => {
    expect(load('').tools).toEqual({
      sandbox: 'bwrap',
      allowUnsandboxedRoot: false,
      network: 'none',
      limits: { tmpMb: 256, maxProcesses: 256, memoryMb: 1024, maxFileMb: 512 },
      service: 'local',
      shellTimeoutSeconds: 60,
      maxOutputBytes: 51_200,
    });
  });

  it('reads the section', () => {
    const toml =
      '[tools]\nsandbox = "none"\nallow_unsandboxed_root = true\nnetwork = "guarded"\nshell_timeout_seconds = 300\nmax_output_bytes = 20000\n' +
      'service = "external"\nsandbox_tmp_mb = 64\nsandbox_max_processes = 32\nsandbox_memory_mb = 2048\nsandbox_max_file_mb = 100\n';
    expect(load(toml).tools).toEqual({
      sandbox: 'none',
      allowUnsandboxedRoot: true,
      network: 'guarded',
      limits: { tmpMb: 64, maxProcesses: 32, memoryMb: 2048, maxFileMb: 100 },
      service: 'external',
      shellTimeoutSeconds: 300,
      maxOutputBytes: 20_000,
    });
  });

  it('names the key of a wrong value or an unknown key', () => {
    expect(() => load('[tools]\nsandbox = "docker"\n')).toThrow(ConfigError);
    expect(() => load('[tools]\nsandbox = "docker"\n')).toThrow(/"tools\.sandbox"/);
    expect(() => load('[tools]\nshell_timeout_seconds = 4000\n')).toThrow(/"tools\.shell_timeout_seconds"/);
    expect(() => load('[tools]\nsandbx = "bwrap"\n')).toThrow(/unknown key "tools\.sandbx"/);
    expect(() => load('[tools]\nnetwork = "host"\n')).toThrow(/"tools\.network"/);
    expect(() => load('[tools]\nallow_unsandboxed_root = "yes"\n')).toThrow(/"tools\.allow_unsandboxed_root"/);
  });
});
