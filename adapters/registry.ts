import type { z } from 'zod';
import type { Logger } from '../lib/logger.js';
import type { InboundAdapter } from './inbound.js';
import { DiscordAdapter } from './discord/adapter.js';
import { discordInstanceSchema } from './discord/config.js';
import { SlackAdapter } from './slack/adapter.js';
import { slackInstanceSchema } from './slack/config.js';
import { TelegramAdapter } from './telegram/adapter.js';
import { telegramInstanceSchema } from './telegram/config.js';

/**
 * Every adapter kind the config may name under `[adapters.<kind>.<instance>]`: the zod schema of one
 * instance's table and the factory that builds the instance from its parsed table. lib/config
 * validates each table with its kind's schema; the gateway and the worker build instances here.
 */
export type AdapterFactory<C> = (instance: string, config: C, logger: Logger, env: NodeJS.ProcessEnv) => InboundAdapter;

export interface AdapterKind<S extends z.ZodType = z.ZodType> {
  schema: S;
  create: AdapterFactory<z.output<S>>;
}

/** Keeps the factory's config typed by its own schema. */
export function defineAdapterKind<S extends z.ZodType>(schema: S, create: AdapterFactory<z.output<S>>): AdapterKind<S> {
  return { schema, create };
}

export const ADAPTER_KINDS = {
  telegram: defineAdapterKind(telegramInstanceSchema, (instance, config, logger, env) => new TelegramAdapter(instance, config, logger, env)),
  discord: defineAdapterKind(discordInstanceSchema, (instance, config, logger, env) => new DiscordAdapter(instance, config, logger, env)),
  slack: defineAdapterKind(slackInstanceSchema, (instance, config, logger, env) => new SlackAdapter(instance, config, logger, env)),
} satisfies Record<string, AdapterKind>;

export type AdapterKindName = keyof typeof ADAPTER_KINDS;

export function isAdapterKind(kind: string): kind is AdapterKindName {
  return Object.hasOwn(ADAPTER_KINDS, kind);
}

/** Builds one configured instance; `settings` is the table as the kind's schema parsed it when the config loaded. */
export function createAdapter(kind: string, instance: string, settings: unknown, logger: Logger, env: NodeJS.ProcessEnv = process.env): InboundAdapter {
  if (!isAdapterKind(kind)) throw new Error(`unknown adapter kind "${kind}"; known: ${Object.keys(ADAPTER_KINDS).join(', ')}`);
  const entry: AdapterKind = ADAPTER_KINDS[kind];
  return entry.create(instance, settings, logger, env);
}
