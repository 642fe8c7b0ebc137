/**
 * Telegram conversation ids: `<chatId>` for a private chat or group, `<chatId>.<topicId>` for a
 * forum topic of a supergroup (each topic is its own conversation). Chat ids are integers (groups are
 * negative), so both forms match the channel workflow's EXTERNAL_ID_PATTERN.
 */
export interface TelegramTarget {
  chatId: number;
  topicId?: number;
}

export function encodeConversation(chatId: number, topicId?: number): string {
  return topicId === undefined ? String(chatId) : `${chatId}.${topicId}`;
}

export function decodeConversation(conversationId: string): TelegramTarget {
  const match = /^(-?\d+)(?:\.(\d+))?$/.exec(conversationId);
  if (!match) throw new Error(`not a Telegram conversation id: "${conversationId}" (expected <chatId> or <chatId>.<topicId>)`);
  return { chatId: Number(match[1]), ...(match[2] ? { topicId: Number(match[2]) } : {}) };
}

/** Inbound message ids are Telegram's message_id, unique within a chat (and so within a conversation). */
export function decodeMessageId(platformMessageId: string): number {
  const id = Number(platformMessageId.slice(platformMessageId.lastIndexOf(':') + 1));
  if (!Number.isInteger(id) || id <= 0) throw new Error(`not a Telegram message id: "${platformMessageId}"`);
  return id;
}
