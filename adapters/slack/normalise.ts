import { z } from 'zod';
import type { InboundEvent } from '../inbound.js';
import type { SlackInstanceConfig } from './config.js';
import { encodeConversation, isDirectChannel } from './conversation.js';

/** The fields of a Slack `message` / `app_mention` event this adapter reads; the rest is ignored. */
const messageEventSchema = z.looseObject({
  type: z.enum(['message', 'app_mention']),
  subtype: z.string().optional(),
  channel: z.string().min(1),
  channel_type: z.string().optional(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  text: z.string().optional(),
  ts: z.string().regex(/^\d+\.\d+$/),
  thread_ts: z.string().regex(/^\d+\.\d+$/).optional(),
  parent_user_id: z.string().optional(),
  team: z.string().optional(),
  username: z.string().optional(),
});

const envelopeBodySchema = z.looseObject({
  team_id: z.string().optional(),
  authorizations: z.array(z.looseObject({ team_id: z.string().nullish() })).optional(),
});

/** Subtypes that are a person (or, if allowed, a bot) saying something; edits, joins, topic changes… are not. */
const USER_MESSAGE_SUBTYPES = new Set(['file_share', 'thread_broadcast', 'me_message']);

export interface SlackIdentity {
  botUserId: string;
  botId?: string;
}

export interface NormaliseContext {
  kind: string;
  instance: string;
  platform: string;
  config: SlackInstanceConfig;
  identity: SlackIdentity;
  /** Threads where the bot is already part of the conversation: no fresh mention needed. */
  isEngagedThread(conversationId: string): boolean;
  now(): Date;
}

export type NormaliseResult = { event: InboundEvent } | { ignored: string };

/** Turns a Slack message event into the gateway's InboundEvent, or says why it is not one. */
export function normaliseSlackMessage(rawEvent: unknown, rawBody: unknown, ctx: NormaliseContext): NormaliseResult {
  const parsed = messageEventSchema.safeParse(rawEvent);
  if (!parsed.success) return { ignored: 'not a message event this adapter understands' };
  const event = parsed.data;
  const body = envelopeBodySchema.safeParse(rawBody);
  const workspaceId = event.team ?? (body.success ? (body.data.team_id ?? body.data.authorizations?.[0]?.team_id ?? undefined) : undefined);
  const { config, identity } = ctx;

  if (event.user === identity.botUserId || (event.bot_id !== undefined && event.bot_id === identity.botId)) return { ignored: 'own message' };
  const isBot = event.bot_id !== undefined || event.subtype === 'bot_message';
  if (event.subtype !== undefined && !USER_MESSAGE_SUBTYPES.has(event.subtype) && !(isBot && event.subtype === 'bot_message')) {
    return { ignored: `subtype ${event.subtype}` };
  }
  if (isBot && !config.allow_bots) return { ignored: 'bot message' };
  const senderId = event.user ?? event.bot_id;
  if (!senderId) return { ignored: 'no sender' };

  if (config.allowed_workspaces.length > 0 && (!workspaceId || !config.allowed_workspaces.includes(workspaceId))) {
    return { ignored: `workspace ${workspaceId ?? '(unknown)'} not allowed` };
  }
  const isDirect = event.channel_type === 'im' || isDirectChannel(event.channel);
  if (isDirect) {
    if (!config.allow_dms) return { ignored: 'direct messages are disabled' };
    if (config.dm_allowlist.length > 0 && !config.dm_allowlist.includes(senderId)) return { ignored: `user ${senderId} not in dm_allowlist` };
  } else if (config.allowed_channels.length > 0 && !config.allowed_channels.includes(event.channel)) {
    return { ignored: `channel ${event.channel} not allowed` };
  }

  const threadTs = event.thread_ts && event.thread_ts !== event.ts ? event.thread_ts : undefined;
  const conversationId = encodeConversation({ channel: event.channel, threadTs });
  const rawText = event.text ?? '';
  const mentionToken = `<@${identity.botUserId}>`;
  const mentioned =
    isDirect ||
    event.type === 'app_mention' ||
    rawText.includes(mentionToken) ||
    (threadTs !== undefined && (event.parent_user_id === identity.botUserId || ctx.isEngagedThread(conversationId)));
  if (config.require_mention && !mentioned) return { ignored: 'no mention of the bot' };

  const text = fromSlackText(rawText.split(mentionToken).join(' ')).replace(/[ \t]{2,}/g, ' ').trim();
  if (text.length === 0) return { ignored: 'no text' };

  return {
    event: {
      kind: ctx.kind,
      instance: ctx.instance,
      platform: ctx.platform,
      conversationId,
      messageId: event.ts,
      text,
      sender: { id: senderId, name: event.username, isBot },
      mentioned,
      coordinates: {
        workspaceId,
        channelId: event.channel,
        threadId: threadTs,
        parentChannelId: threadTs ? event.channel : undefined,
        isDirect,
      },
      receivedAt: ctx.now().toISOString(),
    },
  };
}

/** Slack's wire text → plain text for the model: links unwrapped, entities decoded. */
export function fromSlackText(text: string): string {
  return text
    .replace(/<(https?:\/\/[^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/<(https?:\/\/[^>]+)>/g, '$1')
    .replace(/<mailto:[^|>]+\|([^>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
