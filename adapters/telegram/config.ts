import { z } from 'zod';

/**
 * One `[adapters.telegram.<instance>]` table. The token comes from `token`, else from the variable
 * named by `token_env` (default `TELEGRAM_BOT_TOKEN` for the instance named "default",
 * `TELEGRAM_BOT_TOKEN_<INSTANCE>` otherwise), so it can stay out of the file.
 */
const telegramId = z.union([z.number().int(), z.string().regex(/^-?\d+$/, 'a numeric Telegram id')]).transform(String);

export const telegramInstanceSchema = z
  .object({
    enabled: z.boolean().default(true),
    token: z.string().min(1).optional(),
    token_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
    /** Bot API root; only for tests and self-hosted Bot API servers. */
    api_root: z.url().optional(),
    /** Chats (groups, supergroups, private chats) the bot answers in; empty = all. */
    allowed_chats: z.array(telegramId).default([]),
    /** Users who may talk to the bot in private chats; empty = anyone. */
    dm_allowlist: z.array(telegramId).default([]),
    /** In groups, answer only when mentioned (@bot) or replied to. */
    require_mention: z.boolean().default(true),
    /** Answer messages from other bots. */
    allow_bots: z.boolean().default(false),
    /** Long-poll timeout of getUpdates, in seconds. */
    poll_timeout_seconds: z.number().int().min(0).max(50).default(30),
    /** How replies are formatted: Markdown rendered as Telegram HTML, or plain text. */
    format: z.enum(['html', 'plain']).default('html'),
  })
  .strict();

export type TelegramInstanceInput = z.input<typeof telegramInstanceSchema>;
export type TelegramInstanceConfig = z.output<typeof telegramInstanceSchema>;

/** Environment variable a Telegram instance's token is read from when the file has none. */
export function telegramTokenEnv(instance: string, config: Pick<TelegramInstanceConfig, 'token_env'>): string {
  if (config.token_env) return config.token_env;
  return instance === 'default' ? 'TELEGRAM_BOT_TOKEN' : `TELEGRAM_BOT_TOKEN_${instance.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
