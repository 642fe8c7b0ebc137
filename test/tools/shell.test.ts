import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findBwrap, probeSandbox } from '../../lib/sandbox/probe.js';
import { formatShellResult, makeShellTool, runShellCommand } from '../../lib/tools/workspace/shell.js';
import { callTool, context, scratch, type Scratch } from './helpers.js';

let s: Scratch;
beforeEach(() => {
  s = scratch('spacebot-shell-');
});
afterEach(() => s.remove());

/**
 * Whether `pid` is a live process. A killed orphan may linger as a zombie until the container's init
 * reaps it; a zombie runs nothing, so it counts as gone.
 */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const shell = makeShellTool();
/**
 * The process-group mechanics are those of the host (`[tools] sandbox = "none"`): pids echoed from
 * inside the sandbox are those of its own PID namespace.
 */
const host = { sandbox: 'none' as const };

describe('shell', () => {
  it('runs in the workspace with a minimal environment and reports the exit code and duration', async () => {
    process.env.SPACEBOT_TEST_SECRET = 'sk-should-not-leak';
    try {
      const out = await callTool(shell, { command: 'pwd; echo "home=$HOME"; echo "secret=${SPACEBOT_TEST_SECRET:-none}"; echo oops >&2; exit 3' }, context(s.workspace));
      expect(out).toMatch(new RegExp(`^${s.workspace}\\nhome=${s.workspace}\\nsecret=none\\noops\\n\\[exit code 3 · \\d+\\.\\d s\\]$`));
    } finally {
      delete process.env.SPACEBOT_TEST_SECRET;
    }
  });

  it('caps long output and keeps its end', async () => {
    const small = makeShellTool({ maxOutputBytes: 4096 });
    const out = await callTool(small, { command: 'seq 1 20000; echo LAST' }, context(s.workspace));
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(4096);
    expect(out).toMatch(/^1\n2\n3\n/);
    expect(out).toMatch(/\[output cut: [\d.]+ KB in the middle not shown/);
    expect(out).toMatch(/\nLAST\n\[exit code 0 · [\d.]+ s\]$/);
  });

  it('kills the whole process group at the timeout, grandchildren included', async () => {
    const result = await runShellCommand({ command: 'sleep 60 & echo "bg=$!"; sleep 60; wait', workspace: s.workspace, timeoutMs: 1000, ...host });
    expect(result.outcome).toBe('timed_out');
    const pid = Number(/bg=(\d+)/.exec(result.output)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(isRunning(pid)).toBe(false);
  });

  it('reports a timeout to the model with the advice to raise it', async () => {
    const out = await callTool(shell, { command: 'echo started; sleep 30', timeout_seconds: 1 }, context(s.workspace));
    expect(out).toMatch(/^started\n\[timed out after 1 s: the command and its process group were killed · [\d.]+ s; rerun with a larger timeout_seconds/);
  });

  it('stops background jobs when the command itself ends', async () => {
    const result = await runShellCommand({ command: '(sleep 60; echo late) & echo "bg=$!"', workspace: s.workspace, timeoutMs: 30_000, ...host });
    expect(result.outcome).toBe('exited');
    expect(result.exitCode).toBe(0);
    const pid = Number(/bg=(\d+)/.exec(result.output)?.[1]);
    expect(isRunning(pid)).toBe(false);
  });

  it('kills the command and its children when its AbortSignal fires', async () => {
    const abort = new AbortController();
    const pidFile = path.join(s.workspace, 'sleep.pid');
    const running = runShellCommand({ command: 'sleep 60 & echo $! > sleep.pid; wait', workspace: s.workspace, timeoutMs: 120_000, signal: abort.signal, ...host });
    while (!existsSync(pidFile) || !readFileSync(pidFile, 'utf8').endsWith('\n')) await new Promise((r) => setTimeout(r, 10));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(isRunning(pid)).toBe(true);
    abort.abort();
    const result = await running;
    expect(result.outcome).toBe('cancelled');
    expect(result.signal).toBe('SIGTERM');
    expect(isRunning(pid)).toBe(false);
  });

  it('ends the tool call with the cancellation when its signal fires, killing sleep 60', async () => {
    const abort = new AbortController();
    const out = callTool(shell, { command: 'sleep 60 & echo $! > sleep.pid; wait' }, context(s.workspace, { signal: abort.signal, ...host }));
    const pidFile = path.join(s.workspace, 'sleep.pid');
    while (!existsSync(pidFile) || !readFileSync(pidFile, 'utf8').endsWith('\n')) await new Promise((r) => setTimeout(r, 10));
    const reason = new Error('activity cancelled');
    abort.abort(reason);
    await expect(out).rejects.toBe(reason);
    expect(isRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('reports a cancelled command to a direct caller', async () => {
    const abort = new AbortController();
    abort.abort();
    const result = await runShellCommand({ command: 'true', workspace: s.workspace, timeoutMs: 5000, signal: abort.signal });
    expect(formatShellResult(result, 5)).toMatch(/^\(no output\)\n\[cancelled: the command and its process group were killed · 0\.0 s\]$/);
  });

  it('does not start at all when already cancelled', async () => {
    const abort = new AbortController();
    abort.abort();
    const result = await runShellCommand({ command: 'touch ran', workspace: s.workspace, timeoutMs: 5000, signal: abort.signal });
    expect(result.outcome).toBe('cancelled');
    expect(existsSync(path.join(s.workspace, 'ran'))).toBe(false);
  });

  it('heartbeats while the command runs', async () => {
    const beats: unknown[] = [];
    // The command waits until the second heartbeat has written its marker: it ends only if heartbeats keep coming.
    const result = await runShellCommand({
      command: 'while [ ! -f beat2 ]; do sleep 0.02; done; echo done',
      workspace: s.workspace,
      timeoutMs: 30_000,
      heartbeatIntervalMs: 50,
      heartbeat: (details) => {
        beats.push(details);
        if (beats.length === 2) writeFileSync(path.join(s.workspace, 'beat2'), '');
      },
    });
    expect(result.outcome).toBe('exited');
    expect(result.output).toBe('done\n');
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats[0]).toEqual({ elapsedMs: expect.any(Number), outputBytes: expect.any(Number) });
  });

  it('finds no sandbox without bwrap on the PATH, and says how to install it', () => {
    const probe = probeSandbox({ searchPath: path.join(s.dir, 'empty-bin') });
    expect(probe).toEqual({ available: false, reason: 'bubblewrap (bwrap) is not installed', howToEnable: expect.stringMatching(/apt-get install -y bubblewrap/) });
  });
});

const bwrapInstalled = findBwrap() !== undefined;
const describeBwrap = bwrapInstalled ? describe : describe.skip;
if (!bwrapInstalled) console.warn('skipping the bwrap sandbox tests: bubblewrap is not installed (apt-get install -y bubblewrap)');

describeBwrap('shell in the bwrap sandbox', () => {
  it('is the default, and the probe finds it working here', async () => {
    expect(probeSandbox()).toMatchObject({ available: true });
    const out = await callTool(shell, { command: 'id -un; cat /proc/self/status | grep -E "^(CapEff|NoNewPrivs)"' }, context(s.workspace));
    expect(out).toMatch(/^sandbox\nCapEff:\s+0+\nNoNewPrivs:\s+1\n/);
  });

  it('stops background jobs when the command itself ends (its PID namespace ends with it)', async () => {
    const marker = `sleep 60.${process.pid}1`;
    const result = await runShellCommand({ command: `(${marker}; echo late) & echo started`, workspace: s.workspace, timeoutMs: 30_000 });
    expect(result.output).toBe('started\n');
    expect(pgrep(marker)).toBe(false);
  });

  it('can write inside the workspace but not outside it', async () => {
    // /etc is mounted read-only; the scratch dir next to the workspace is only the sandbox's private /tmp.
    const hostFile = path.join(s.dir, 'escaped.txt');
    const out = await callTool(
      shell,
      {
        command:
          'echo inside > in.txt && echo wrote-inside; ' +
          '(echo x > /etc/spacebot-escape) 2>/dev/null || echo etc-refused; ' +
          `echo x > ${hostFile}; ` +
          '(touch /usr/spacebot-escape) 2>/dev/null || echo usr-refused',
      },
      context(s.workspace, { sandbox: 'bwrap' }),
    );
    expect(out).toMatch(/^wrote-inside\netc-refused\nusr-refused\n\[exit code 0/);
    expect(readFileSync(path.join(s.workspace, 'in.txt'), 'utf8')).toBe('inside\n');
    expect(existsSync('/etc/spacebot-escape')).toBe(false);
    expect(existsSync('/usr/spacebot-escape')).toBe(false);
    expect(existsSync(hostFile)).toBe(false);
  });

  it('has a private /tmp and its own process namespace', async () => {
    writeFileSync(path.join(s.dir, 'host-file'), '');
    const out = await callTool(shell, { command: `ls ${s.dir} 2>&1 | sort; echo "pid=$$"` }, context(s.workspace, { sandbox: 'bwrap' }));
    // Only the workspace is bound below the scratch dir (which lives in /tmp): the host's files are not visible.
    expect(out).toMatch(/^workspace\npid=\d\n/); // a fresh PID namespace: bwrap is 1, the shell a low number
    expect(out).not.toContain('host-file');
  });

  it('kills the sandboxed command at the timeout', async () => {
    const result = await runShellCommand({ command: 'sleep 60', workspace: s.workspace, timeoutMs: 1000, sandbox: 'bwrap' });
    expect(result.outcome).toBe('timed_out');
  });

  it('has no network but its own loopback', async () => {
    const result = await runShellCommand({ command: 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "', workspace: s.workspace, timeoutMs: 10_000 });
    expect(result.output.trim().split('\n')).toEqual(['lo']);
  });
});

function pgrep(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}
