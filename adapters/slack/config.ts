import { z } from 'zod';

/**
 * One Slack adapter instance: `[adapters.slack.<instance>]` in spacebot.toml. Tokens may be left out
 * of the file and come from the environment instead (see `resolveSlackSecrets`).
 */

const slackId = z.string().regex(/^[A-Z0-9]{2,40}$/, 'a Slack id such as T0123ABCD or C0123ABCD');

export const slackInstanceSchema = z
  .object({
    /**
     * `socket` (default): Socket Mode, an outbound WebSocket, no public URL needed; needs app_token.
     * `http`: the Events API posts to a Bolt HTTP receiver this adapter runs on its own port; needs
     * signing_secret (every request's signature is verified).
     */
    mode: z.enum(['socket', 'http']).default('socket'),
    /** Bot token (xoxb-…); else SLACK_BOT_TOKEN (instance "default") or SLACK_<INSTANCE>_BOT_TOKEN. */
    bot_token: z.string().min(1).optional(),
    /** App-level token (xapp-…) with connections:write, for Socket Mode; else SLACK[_<INSTANCE>]_APP_TOKEN. */
    app_token: z.string().min(1).optional(),
    /** Signing secret, for HTTP events mode; else SLACK[_<INSTANCE>]_SIGNING_SECRET. */
    signing_secret: z.string().min(1).optional(),
    /** HTTP events mode: where the receiver listens. Point the app's Request URL at http(s)://<public host><path>. */
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(1).max(65_535).default(3100),
        path: z.string().regex(/^\/\S*$/, 'a path starting with "/"').default('/slack/events'),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 3100, path: '/slack/events' }),
    /** Web API base URL; only tests point it elsewhere (a local fake of Slack). */
    api_url: z.url().default('https://slack.com/api/'),
    /** Workspaces (team ids) whose messages are accepted; empty = any workspace the app is installed in. */
    allowed_workspaces: z.array(slackId).default([]),
    /** Channels whose messages (and threads) are accepted; empty = every channel the bot is in. DMs are governed by allow_dms. */
    allowed_channels: z.array(slackId).default([]),
    /** Accept direct messages with the bot. */
    allow_dms: z.boolean().default(true),
    /** Users allowed to DM the bot; empty = anyone in an allowed workspace. */
    dm_allowlist: z.array(slackId).default([]),
    /** In channels, only messages that mention the bot (or continue a thread it was mentioned in) start a turn. */
    require_mention: z.boolean().default(true),
    /** Accept messages from other bots (never from this bot itself). */
    allow_bots: z.boolean().default(false),
    /** Longest text one message holds; Slack advises 4,000 characters (it truncates beyond 40,000). */
    max_message_chars: z.number().int().min(100).max(40_000).default(4000),
    /** chat.update is Tier 3 (about 50 calls a minute): streamed edits are coalesced to at most one per interval. */
    min_edit_interval_ms: z.number().int().min(100).max(60_000).default(1200),
    /** Assistant-thread status shown while a turn runs ("<App> is thinking…"). */
    status_text: z.string().min(1).max(100).default('is thinking…'),
    /**
     * Socket Mode: how long to wait for a pong before reconnecting; also the step of the reconnect
     * backoff (n × this after n failed attempts).
     */
    ping_timeout_ms: z.number().int().min(200).max(60_000).default(5000),
  })
  .strict();

export type SlackInstanceInput = z.input<typeof slackInstanceSchema>;
export type SlackInstanceConfig = z.output<typeof slackInstanceSchema>;

export interface SlackSecrets {
  botToken: string;
  appToken?: string;
  signingSecret?: string;
}

/** SLACK_BOT_TOKEN for the instance "default", SLACK_WORK_BOT_TOKEN for an instance "work". */
export function slackEnvName(instance: string, secret: 'BOT_TOKEN' | 'APP_TOKEN' | 'SIGNING_SECRET'): string {
  const infix = instance === 'default' ? '' : `_${instance.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
  return `SLACK${infix}_${secret}`;
}

/**
 * The instance's secrets, from the file or else the environment. Throws naming the setting and the
 * environment variable when one the mode needs is missing, without ever echoing a secret.
 */
export function resolveSlackSecrets(instance: string, config: SlackInstanceConfig, env: NodeJS.ProcessEnv = process.env): SlackSecrets {
  const pick = (value: string | undefined, secret: 'BOT_TOKEN' | 'APP_TOKEN' | 'SIGNING_SECRET'): string | undefined =>
    value ?? (env[slackEnvName(instance, secret)] || undefined);
  const botToken = pick(config.bot_token, 'BOT_TOKEN');
  const appToken = pick(config.app_token, 'APP_TOKEN');
  const signingSecret = pick(config.signing_secret, 'SIGNING_SECRET');
  const where = `[adapters.slack.${instance}]`;
  if (!botToken) {
    throw new Error(`${where}: no bot token; set bot_token or ${slackEnvName(instance, 'BOT_TOKEN')} (the app's xoxb- token)`);
  }
  if (config.mode === 'socket' && !appToken) {
    throw new Error(
      `${where}: Socket Mode needs an app-level token; set app_token or ${slackEnvName(instance, 'APP_TOKEN')} (xapp-…, scope connections:write), or use mode = "http"`,
    );
  }
  if (config.mode === 'http' && !signingSecret) {
    throw new Error(`${where}: HTTP events mode needs the app's signing secret; set signing_secret or ${slackEnvName(instance, 'SIGNING_SECRET')}`);
  }
  return { botToken, appToken, signingSecret };
}
