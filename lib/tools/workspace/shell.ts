import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import type { SandboxMode } from '../../sandbox/config.js';
import { bwrapPlan, type SandboxExtras, type SandboxPlan } from '../../sandbox/policy.js';
import { DEFAULT_SANDBOX_LIMITS, prlimitArgs, type SandboxLimits } from '../../sandbox/limits.js';
import { createPidsCgroup, type PidsCgroup } from '../../sandbox/pids-cgroup.js';
import { probeSandbox } from '../../sandbox/probe.js';
import { defineTool } from '../tool.js';
import { ensureWorkspace } from './confine.js';
import { workspaceOf } from './file-tools.js';
import { CappedOutput, MAX_TOOL_OUTPUT_BYTES } from './output-cap.js';
import { groupHasLiveMembers, signalGroup } from './process-group.js';

/**
 * The workers' `shell` tool: `bash -c` in the agent's workspace, in a process group of its own so that a
 * timeout or a cancellation stops the command together with everything it started. By default inside
 * the bubblewrap sandbox of lib/sandbox/policy.ts, where only the workspace is writable; on the host
 * only with `[tools] sandbox = "none"`.
 */

export const DEFAULT_SHELL_TIMEOUT_SECONDS = 60;
export const MAX_SHELL_TIMEOUT_SECONDS = 1800;
/** Between SIGTERM to the group and SIGKILL: time for commands to clean up. */
export const KILL_GRACE_MS = 2000;
/** How often a running command reports liveness; well inside any sensible activity heartbeat timeout. */
export const SHELL_HEARTBEAT_INTERVAL_MS = 5000;

/** How often a stopping process group is checked for being gone. */
const GROUP_POLL_MS = 25;
/** Room for the status line after the output, within the output cap. */
const STATUS_RESERVE_BYTES = 320;

export type { SandboxMode };

/** The sandbox was asked for (`[tools] sandbox = "bwrap"`, the default) but cannot be had here; nothing runs. */
export class SandboxUnavailableError extends Error {
  override name = 'SandboxUnavailableError';
  constructor(reason: string, howToEnable: string) {
    super(`the shell sandbox cannot be used: ${reason}; nothing was run. To enable it: ${howToEnable}`);
  }
}

export interface ShellRunOptions {
  command: string;
  /** Working directory and HOME; with bwrap the only writable path. Created when missing. */
  workspace: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Default `bwrap`; `none` runs on the host. */
  sandbox?: SandboxMode;
  /** With bwrap: what a later policy adds (the egress guard); the network namespace stays private regardless. */
  sandboxExtras?: SandboxExtras;
  /** With bwrap: tmpfs size, rlimits and process count of the sandbox; default DEFAULT_SANDBOX_LIMITS. */
  sandboxLimits?: SandboxLimits;
  heartbeat?: (details?: unknown) => void;
  heartbeatIntervalMs?: number;
  maxOutputBytes?: number;
  killGraceMs?: number;
}

export interface ShellResult {
  /** stdout and stderr interleaved as they came, capped with a note. */
  output: string;
  totalOutputBytes: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  outcome: 'exited' | 'timed_out' | 'cancelled';
}

/** Runs one command to its end, its timeout or its cancellation; never leaves its process group behind. */
export async function runShellCommand(options: ShellRunOptions): Promise<ShellResult> {
  const workspace = await ensureWorkspace(options.workspace);
  const started = performance.now();
  if (options.signal?.aborted) {
    return { output: '', totalOutputBytes: 0, exitCode: null, signal: null, durationMs: 0, outcome: 'cancelled' };
  }
  const { file, args, dataFiles, cgroup } = commandLine(options, workspace);
  const env: NodeJS.ProcessEnv = {
    // Nothing else from the worker's environment: it holds provider keys and database URLs (and bwrap's
    // own process inside the sandbox keeps the environment it was started with, readable in /proc/1/environ).
    PATH: process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: workspace,
    LANG: process.env.LANG || 'C.UTF-8',
  };
  const grace = options.killGraceMs ?? KILL_GRACE_MS;
  // The status line formatShellResult adds must fit in the same budget.
  const output = new CappedOutput(Math.max(1024, (options.maxOutputBytes ?? MAX_TOOL_OUTPUT_BYTES) - STATUS_RESERVE_BYTES));

  return new Promise<ShellResult>((resolve, reject) => {
    let child;
    try {
      child = spawn(file, args, { cwd: workspace, env, detached: true, stdio: ['ignore', 'pipe', 'pipe', ...dataFiles.map(() => 'pipe' as const)] });
    } catch (err) {
      cgroup?.remove();
      throw err;
    }
    const pgid = child.pid;
    // bwrap reads each --ro-bind-data file from its descriptor until EOF before it runs the command.
    for (const data of dataFiles) {
      const stream = child.stdio[data.fd] as NodeJS.WritableStream | null;
      stream?.on('error', () => undefined); // bwrap failed to start: reported through 'error'/'close'
      stream?.end(data.content);
    }
    let outcome: ShellResult['outcome'] = 'exited';
    let terminating = false;
    let killed = false;
    let escalationTimer: NodeJS.Timeout | undefined;

    const signal = (sig: NodeJS.Signals): boolean => pgid !== undefined && signalGroup(pgid, sig);
    const terminate = (why?: 'timed_out' | 'cancelled') => {
      if (why && outcome === 'exited') outcome = why;
      if (terminating) return;
      terminating = true;
      if (!signal('SIGTERM')) return;
      escalationTimer = setTimeout(() => {
        killed = true;
        signal('SIGKILL');
      }, grace);
    };
    /**
     * Waits until the group is gone or has been sent SIGKILL: processes that closed their output but
     * ignore SIGTERM still get killed before we report.
     */
    const groupSettled = async () => {
      while (pgid !== undefined && escalationTimer && !killed && (await groupHasLiveMembers(pgid))) await delay(GROUP_POLL_MS);
      clearTimeout(escalationTimer);
    };

    const timeout = setTimeout(() => terminate('timed_out'), options.timeoutMs);
    const onAbort = () => terminate('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const beat = () => {
      try {
        options.heartbeat?.({ elapsedMs: Math.round(performance.now() - started), outputBytes: output.totalBytes });
      } catch {
        // A failing heartbeat must not take the command down; cancellation arrives through the signal.
      }
    };
    const heartbeats = options.heartbeat ? setInterval(beat, options.heartbeatIntervalMs ?? SHELL_HEARTBEAT_INTERVAL_MS) : undefined;
    if (options.heartbeat) beat();
    const stopTimers = () => {
      clearTimeout(timeout);
      if (heartbeats) clearInterval(heartbeats);
      options.signal?.removeEventListener('abort', onAbort);
    };

    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
    child.on('error', (err) => {
      stopTimers();
      clearTimeout(escalationTimer);
      signal('SIGKILL');
      cgroup?.remove();
      reject(new Error(`could not start the shell (${file}): ${err.message}`));
    });
    // The leader is gone; background jobs it left would hold the output pipes open (and outlive the
    // command), so the rest of its group is stopped as well.
    child.on('exit', () => terminate());
    child.on('close', (code, sig) => {
      stopTimers();
      const finish = () => {
        cgroup?.remove();
        resolve({
          output: output.text(),
          totalOutputBytes: output.totalBytes,
          exitCode: code,
          signal: sig,
          durationMs: Math.round(performance.now() - started),
          outcome,
        });
      };
      // groupHasLiveMembers handles its own I/O errors; the catch only guards against the unforeseen.
      void groupSettled()
        .catch(() => undefined)
        .then(finish);
    });
  });
}

interface CommandLine {
  file: string;
  args: string[];
  dataFiles: SandboxPlan['dataFiles'];
  /** The sandbox's own pids cgroup, removed once the command has ended. */
  cgroup?: PidsCgroup;
}

function commandLine(options: ShellRunOptions, workspace: string): CommandLine {
  if ((options.sandbox ?? 'bwrap') === 'none') return { file: 'bash', args: ['-c', options.command], dataFiles: [] };
  const probe = probeSandbox();
  if (!probe.available) throw new SandboxUnavailableError(probe.reason, probe.howToEnable);
  const limits = options.sandboxLimits ?? DEFAULT_SANDBOX_LIMITS;
  const plan = bwrapPlan({ workspace, command: options.command, extras: options.sandboxExtras, tmpMb: limits.tmpMb });
  const keep = plan.dataFiles.map((f) => f.fd).join(' ');
  // The process count plus the launcher, bwrap and (with guarded network) the forwarder.
  const cgroup = createPidsCgroup(limits.maxProcesses + 3);
  const args = ['-c', SANDBOX_LAUNCHER, 'spacebot-sandbox', keep, cgroup?.procsFile ?? '', PRLIMIT, ...prlimitArgs(limits), '--', probe.bwrap, ...plan.args];
  return { file: '/bin/bash', args, dataFiles: plan.dataFiles, cgroup };
}

/** util-linux prlimit (Debian: /usr/bin, the image installs util-linux): applies the rlimits, then execs bwrap. */
const PRLIMIT = '/usr/bin/prlimit';

/**
 * Run on the host just before prlimit and bwrap replace it: joins the sandbox's pids cgroup ($2, when
 * there is one; failing to join stops here, so that a command is never run less bounded than
 * planned), then closes every descriptor above 2 except bwrap's data files ($1). Node marks its own
 * descriptors close-on-exec, but ones it inherited (a supervisor's pipe, an IPC channel) would
 * otherwise be handed into the sandbox.
 */
const SANDBOX_LAUNCHER =
  'keep=" $1 "; cg=$2; shift 2; ' +
  'if [ -n "$cg" ]; then echo $$ > "$cg" || { echo "spacebot: could not join the sandbox pids cgroup" >&2; exit 126; }; fi; ' +
  'for f in /proc/self/fd/*; do n=${f##*/}; case "$keep" in *" $n "*) continue;; esac; ' +
  '[ "$n" -gt 2 ] && eval "exec $n>&-"; done; exec "$@"';

/** What the model sees: the output, then one line with how the command ended and how long it took. */
export function formatShellResult(result: ShellResult, timeoutSeconds: number): string {
  const took = `${(result.durationMs / 1000).toFixed(1)} s`;
  let status: string;
  if (result.outcome === 'timed_out') {
    status = `[timed out after ${timeoutSeconds} s: the command and its process group were killed · ${took}; rerun with a larger timeout_seconds (at most ${MAX_SHELL_TIMEOUT_SECONDS}) or split the work]`;
  } else if (result.outcome === 'cancelled') {
    status = `[cancelled: the command and its process group were killed · ${took}]`;
  } else if (result.exitCode !== null) {
    status = `[exit code ${result.exitCode} · ${took}]`;
  } else {
    status = `[killed by signal ${result.signal ?? 'unknown'} · ${took}]`;
  }
  const text = result.output.replace(/\n$/, '');
  return `${text || '(no output)'}\n${status}`;
}

export const shellInput = z
  .object({
    command: z.string().min(1).max(100_000).describe('The bash command line to run, e.g. "ls -la && git status".'),
    timeout_seconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_SHELL_TIMEOUT_SECONDS)
      .optional()
      .describe(`Kill the command after this many seconds (default ${DEFAULT_SHELL_TIMEOUT_SECONDS}, at most ${MAX_SHELL_TIMEOUT_SECONDS}).`),
  })
  .strict();

export interface ShellToolOptions {
  /** `[tools] shell_timeout_seconds`. */
  defaultTimeoutSeconds?: number;
  /** `[tools] max_output_bytes`. */
  maxOutputBytes?: number;
  /** `[tools] sandbox`, unless the tool context says otherwise (default `bwrap`). */
  sandbox?: SandboxMode;
  /** Added to the bwrap sandbox (the egress guard of `network = "guarded"`). */
  sandboxExtras?: SandboxExtras;
  /** `[tools] sandbox_tmp_mb`, `sandbox_max_processes`, `sandbox_memory_mb`, `sandbox_max_file_mb`. */
  sandboxLimits?: SandboxLimits;
  heartbeatIntervalMs?: number;
}

export function makeShellTool(options: ShellToolOptions = {}) {
  const defaultTimeout = options.defaultTimeoutSeconds ?? DEFAULT_SHELL_TIMEOUT_SECONDS;
  return defineTool({
    name: 'shell',
    description:
      'Run a bash command in your workspace (the working directory and HOME). stdout and stderr come back together, ' +
      `with the exit code and duration; long output is cut. The command is killed after timeout_seconds (default ${defaultTimeout}); ` +
      'background processes it starts are stopped when it ends.',
    input: shellInput,
    async run(input, context) {
      const timeoutSeconds = input.timeout_seconds ?? defaultTimeout;
      const result = await runShellCommand({
        command: input.command,
        workspace: workspaceOf(context),
        timeoutMs: timeoutSeconds * 1000,
        signal: context.signal,
        sandbox: context.sandbox ?? options.sandbox ?? 'bwrap',
        sandboxExtras: options.sandboxExtras,
        sandboxLimits: options.sandboxLimits,
        heartbeat: context.heartbeat,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        maxOutputBytes: options.maxOutputBytes,
      });
      // A cancelled activity must end as cancelled, not with a result: rethrow the signal's reason
      // (Temporal's CancelledFailure), or an AbortError, which the SDK also reports as a cancellation.
      if (result.outcome === 'cancelled') throw cancellationError(context.signal);
      return formatShellResult(result, timeoutSeconds);
    },
  });
}

function cancellationError(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  const err = new Error('the shell command was cancelled; it and its process group were killed');
  err.name = 'AbortError';
  return err;
}

