import { z } from 'zod';

/**
 * One `[adapters.discord.<instance>]` table. The bot token comes from `token`, else from the variable
 * named by `token_env` (default `DISCORD_BOT_TOKEN` for the instance named "default",
 * `DISCORD_BOT_TOKEN_<INSTANCE>` otherwise), so it can stay out of the file.
 */
const snowflake = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,25}$/, 'a numeric Discord id (snowflake)')]).transform(String);

export const discordInstanceSchema = z
  .object({
    enabled: z.boolean().default(true),
    token: z.string().min(1).optional(),
    token_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
    /** REST root without the version (`https://discord.com/api`); only for tests and proxies. */
    api_url: z.url().optional(),
    /** Guilds (servers) the bot answers in; empty = all. */
    allowed_guilds: z.array(snowflake).default([]),
    /** Guild channels the bot answers in (a thread counts as its parent channel); empty = all. */
    allowed_channels: z.array(snowflake).default([]),
    /** Answer direct messages at all. */
    allow_dms: z.boolean().default(true),
    /** Users who may talk to the bot in direct messages; empty = anyone. */
    dm_allowlist: z.array(snowflake).default([]),
    /** In guild channels and threads, answer only when the bot is mentioned or replied to. */
    require_mention: z.boolean().default(true),
    /** Answer messages from other bots (never its own). */
    allow_bots: z.boolean().default(false),
  })
  .strict();

export type DiscordInstanceInput = z.input<typeof discordInstanceSchema>;
export type DiscordInstanceConfig = z.output<typeof discordInstanceSchema>;

/** Environment variable a Discord instance's token is read from when the file has none. */
export function discordTokenEnv(instance: string, config: Pick<DiscordInstanceConfig, 'token_env'>): string {
  if (config.token_env) return config.token_env;
  return instance === 'default' ? 'DISCORD_BOT_TOKEN' : `DISCORD_BOT_TOKEN_${instance.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The instance's token from the file or the environment; the error names where it was looked for. */
export function resolveDiscordToken(instance: string, config: DiscordInstanceConfig, env: NodeJS.ProcessEnv = process.env): string {
  const token = config.token ?? env[discordTokenEnv(instance, config)];
  if (!token) {
    throw new Error(
      `adapters.discord.${instance}: no bot token; set "token" in the [adapters.discord.${instance}] table or the ${discordTokenEnv(instance, config)} environment variable`,
    );
  }
  return token.replace(/^Bot\s+/i, '');
}
