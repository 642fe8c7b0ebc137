import type { RecoverChannelInput, RecoveredChannel } from './contract.js';
import type { ActivityDeps } from './deps.js';
import { childrenOfChannel, type ChildrenOfChannel } from '../lib/channel/running-children.js';
import { cutOffTurnMessages, highestChildNumber, lastTurn, recentInboundIds, undeliveredReplies, waitingMessages } from '../lib/channel/recovery-store.js';

/**
 * The state a fresh channel run takes over when an earlier run of the same workflow id was closed
 * without continuing as new (terminated, reset, failed): the turn counter, the ids already answered,
 * the messages not yet answered, replies not yet posted, and the children still running. Read-only:
 * the run acts on it (docs/runs.md, "Recovery of a closed run").
 */
export function makeRecoverChannel(deps: ActivityDeps) {
  return async function recoverChannel(input: RecoverChannelInput): Promise<RecoveredChannel> {
    const { channelId } = input;
    const turnSeq = await lastTurn(deps.db, channelId);
    const cutOff = await cutOffTurnMessages(deps.db, channelId, turnSeq);
    const waiting = await waitingMessages(deps.db, channelId, input.maxPending - cutOff.length);
    const seen = await recentInboundIds(deps.db, channelId, input.seenLimit);
    const undelivered = await undeliveredReplies(deps.db, input);
    // Children are started by turns, and a turn records something first: a channel without turns has
    // none, and a new conversation (the usual fresh run) does not wait on Temporal's visibility.
    const children = turnSeq > 0 ? await runningChildren(deps, channelId) : { running: [], highestN: 0 };
    const processSeq = Math.max(children.highestN, await highestChildNumber(deps.db, channelId));
    const recovered: RecoveredChannel = { turnSeq, seen, pending: [...cutOff, ...waiting], processes: children.running, processSeq, undelivered };
    if (turnSeq > 0 || recovered.pending.length || recovered.processes.length) {
      deps.logger.info(
        { channelId, turnSeq, seen: seen.length, pending: recovered.pending.length, cutOff: cutOff.length, processes: children.running.length, processSeq, undelivered: undelivered.length },
        'channel run recovered the state of an earlier run',
      );
    }
    return recovered;
  };
}

/**
 * Without a Temporal client (some tests' deps) running children cannot be found: none are taken over.
 * Nor when visibility fails (a server without the search attributes): retrying would keep the
 * conversation's first message waiting, and the rest of the state is worth more than the children.
 */
async function runningChildren(deps: ActivityDeps, channelId: string): Promise<ChildrenOfChannel> {
  const none = { running: [], highestN: 0 };
  if (!deps.temporal) {
    deps.logger.warn({ channelId }, 'no Temporal client: running children of an earlier run are not taken over');
    return none;
  }
  try {
    return await childrenOfChannel(deps.temporal, channelId);
  } catch (err) {
    deps.logger.warn({ channelId, error: (err as Error).message }, 'could not list the children of an earlier run: they are not taken over');
    return none;
  }
}
