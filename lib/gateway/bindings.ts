import type { InboundEvent } from '../../adapters/inbound.js';
import type { BindingConfig, GatewayConfig } from './config.js';

export type Route = { agentId: string; binding: number | 'default' } | { agentId: undefined; binding: 'ignored' };

/**
 * The agent that answers an event: the first `[[bindings]]` entry whose every given field matches,
 * else the default agent, or nobody when `[gateway] unmatched = "ignore"`. A binding's `channel`
 * also covers threads under that channel (and Telegram forum topics under their chat).
 */
export function routeEvent(event: InboundEvent, bindings: BindingConfig[], gateway: GatewayConfig): Route {
  const index = bindings.findIndex((binding) => matches(binding, event));
  if (index !== -1) return { agentId: bindings[index]!.agent, binding: index };
  return gateway.unmatched === 'ignore' ? { agentId: undefined, binding: 'ignored' } : { agentId: gateway.defaultAgent, binding: 'default' };
}

function matches(binding: BindingConfig, event: InboundEvent): boolean {
  const c = event.coordinates;
  if (binding.platform !== event.kind) return false;
  if (binding.instance !== undefined && binding.instance !== event.instance) return false;
  if (binding.guild !== undefined && binding.guild !== c.guildId) return false;
  if (binding.workspace !== undefined && binding.workspace !== c.workspaceId) return false;
  if (binding.chat !== undefined && binding.chat !== c.chatId) return false;
  if (binding.channel !== undefined && binding.channel !== c.channelId && binding.channel !== c.parentChannelId) return false;
  if (binding.thread !== undefined && binding.thread !== c.threadId) return false;
  if (binding.direct !== undefined && binding.direct !== c.isDirect) return false;
  return true;
}
