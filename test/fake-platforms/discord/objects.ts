/**
 * The Discord API objects the fake serves, shaped like the real v10 payloads (the fields discord.js
 * reads when it builds its structures), plus a snowflake generator so ids look and sort like Discord's.
 */

const DISCORD_EPOCH = 1_420_070_400_000n;
let increment = 0n;

/** A fresh snowflake: timestamp << 22 | increment, as Discord builds them. */
export function snowflake(): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | increment).toString();
}

export const ChannelTypes = { GuildText: 0, DM: 1, PublicThread: 11 } as const;

export interface FakeUser {
  id: string;
  username: string;
  bot?: boolean;
}

export interface FakeChannel {
  id: string;
  name: string;
  type: number;
  guildId?: string;
  /** Threads: the channel they belong to. */
  parentId?: string;
}

export interface FakeGuild {
  id: string;
  name: string;
  channels: FakeChannel[];
}

export function apiUser(user: FakeUser): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.username,
    avatar: null,
    bot: user.bot ?? false,
    flags: 0,
  };
}

export function apiChannel(channel: FakeChannel): Record<string, unknown> {
  const base: Record<string, unknown> = { id: channel.id, type: channel.type, name: channel.name, last_message_id: null, flags: 0 };
  if (channel.guildId) base.guild_id = channel.guildId;
  if (channel.type === ChannelTypes.GuildText) Object.assign(base, { position: 0, permission_overwrites: [], nsfw: false, topic: null, rate_limit_per_user: 0, parent_id: null });
  if (channel.type === ChannelTypes.PublicThread) {
    Object.assign(base, {
      parent_id: channel.parentId,
      owner_id: '1',
      message_count: 0,
      member_count: 1,
      rate_limit_per_user: 0,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
    });
  }
  return base;
}

/** The GUILD_CREATE payload: a full guild with its channels and active threads. */
export function apiGuildCreate(guild: FakeGuild, bot: FakeUser): Record<string, unknown> {
  const channels = guild.channels.filter((c) => c.type !== ChannelTypes.PublicThread);
  const threads = guild.channels.filter((c) => c.type === ChannelTypes.PublicThread);
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    owner_id: '1',
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: [{ id: guild.id, name: '@everyone', color: 0, hoist: false, position: 0, permissions: '1071698660929', managed: false, mentionable: false, flags: 0 }],
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    preferred_locale: 'en-US',
    public_updates_channel_id: null,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    joined_at: new Date().toISOString(),
    large: false,
    unavailable: false,
    member_count: 2,
    voice_states: [],
    members: [{ user: apiUser(bot), roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 }],
    channels: channels.map((c) => apiChannel({ ...c, guildId: undefined })),
    threads: threads.map((c) => apiChannel({ ...c, guildId: guild.id })),
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

export interface ApiMessageInput {
  id: string;
  channel: FakeChannel;
  author: FakeUser;
  content: string;
  mentions?: FakeUser[];
  /** The message this one replies to (type 19, message_reference + referenced_message). */
  replyTo?: { id: string; author: FakeUser; content: string };
  nonce?: string;
  editedAt?: string;
}

export function apiMessage(input: ApiMessageInput): Record<string, unknown> {
  const message: Record<string, unknown> = {
    id: input.id,
    channel_id: input.channel.id,
    channel_type: input.channel.type,
    author: apiUser(input.author),
    content: input.content,
    timestamp: new Date().toISOString(),
    edited_timestamp: input.editedAt ?? null,
    tts: false,
    mention_everyone: false,
    mentions: (input.mentions ?? []).map(apiUser),
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    type: input.replyTo ? 19 : 0,
    flags: 0,
    components: [],
  };
  if (input.channel.guildId) {
    message.guild_id = input.channel.guildId;
    message.member = { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 };
  }
  if (input.nonce !== undefined) message.nonce = input.nonce;
  if (input.replyTo) {
    message.message_reference = { type: 0, message_id: input.replyTo.id, channel_id: input.channel.id, guild_id: input.channel.guildId };
    message.referenced_message = apiMessage({ id: input.replyTo.id, channel: input.channel, author: input.replyTo.author, content: input.replyTo.content });
  }
  return message;
}
