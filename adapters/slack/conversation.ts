/**
 * Slack conversation ids as channel workflows see them (within EXTERNAL_ID_PATTERN):
 * `C0123ABCD` for a channel or DM's main timeline, `C0123ABCD.1700000000.000100` for a thread
 * (channel id, then the thread's parent ts). Replies in a thread go back into that thread.
 */
export interface SlackConversation {
  channel: string;
  threadTs?: string;
}

const CHANNEL = /^[A-Z0-9]{2,40}$/;
const TS = /^\d{1,12}\.\d{1,9}$/;

export function encodeConversation(conversation: SlackConversation): string {
  return conversation.threadTs ? `${conversation.channel}.${conversation.threadTs}` : conversation.channel;
}

export function decodeConversation(conversationId: string): SlackConversation {
  const dot = conversationId.indexOf('.');
  const channel = dot === -1 ? conversationId : conversationId.slice(0, dot);
  const threadTs = dot === -1 ? undefined : conversationId.slice(dot + 1);
  if (!CHANNEL.test(channel) || (threadTs !== undefined && !TS.test(threadTs))) {
    throw new Error(`not a Slack conversation id: "${conversationId}" (expected <channel id> or <channel id>.<thread ts>)`);
  }
  return threadTs ? { channel, threadTs } : { channel };
}

/** Direct-message channels (im) have ids starting with D. */
export function isDirectChannel(channel: string): boolean {
  return channel.startsWith('D');
}
