import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workspaceToolAccess } from '../../lib/sandbox/access.js';
import type { SandboxSettings } from '../../lib/sandbox/config.js';
import { probeSandbox, type SandboxProbe } from '../../lib/sandbox/probe.js';
import { announceSandbox, SandboxPolicyError } from '../../lib/sandbox/startup.js';
import { createLogger } from '../../lib/logger.js';
import { makeWorkerTools } from '../../lib/tools/workspace/index.js';

/**
 * Start-up and the worker tool set when the sandbox cannot be had, or is switched off: one line that
 * says why and how to enable it, no shell offered, and `none` as root refused unless explicitly allowed.
 */

const root = process.getuid?.() === 0;
const settings = (over: Partial<SandboxSettings> = {}): SandboxSettings => ({ sandbox: 'bwrap', allowUnsandboxedRoot: false, network: 'none', ...over });

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = createLogger('sandbox-test', 'info', { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { logger, lines };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-sandbox-startup-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The probe as it comes out on a host without bwrap on the PATH (a real probe, with an empty search path). */
const noBwrap = (): SandboxProbe => probeSandbox({ searchPath: path.join(dir, 'empty-bin') });

test('without bwrap: start-up says in one warning why and how to enable it, and the worker gets no shell, file_write or file_edit', () => {
  const { logger, lines } = capturingLogger();
  announceSandbox(settings(), logger, noBwrap);
  const warnings = lines.filter((l) => l.level === 40);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]!.msg).toMatch(/^worker sandbox unavailable: bubblewrap \(bwrap\) is not installed; the shell, file_write and file_edit tools are not offered\. To enable: install bubblewrap/);
  expect(warnings[0]!.msg).not.toContain('\n');

  expect(workspaceToolAccess(settings(), noBwrap)).toEqual({ shell: false, reason: expect.stringMatching(/not installed/) });
});

test('with the sandbox working here (the default), the worker gets the shell and all file tools', () => {
  expect(probeSandbox()).toMatchObject({ available: true });
  expect(makeWorkerTools({}).map((t) => t.name)).toEqual(['shell', 'file_read', 'file_write', 'file_edit', 'file_list']);
});

(root ? test : test.skip)('sandbox = "none" as root is refused at start-up and offers no shell, unless allow_unsandboxed_root', () => {
  const { logger, lines } = capturingLogger();
  expect(() => announceSandbox(settings({ sandbox: 'none' }), logger)).toThrow(SandboxPolicyError);
  expect(() => announceSandbox(settings({ sandbox: 'none' }), logger)).toThrow(/allow_unsandboxed_root = true/);
  expect(makeWorkerTools({ sandbox: 'none' }).map((t) => t.name)).toEqual(['file_read', 'file_list']);

  announceSandbox(settings({ sandbox: 'none', allowUnsandboxedRoot: true }), logger);
  expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringMatching(/^\[tools\] sandbox = "none": workers' shell commands run unconfined on this host as root/)]);
  expect(makeWorkerTools({ sandbox: 'none', allowUnsandboxedRoot: true }).map((t) => t.name)).toContain('shell');
});
