import { formatModelRef, type AgentConfig, type ModelRef, type ModelSettings, type ProcessType, type SpacebotConfig } from '../config/types.js';

export interface RouteRequest {
  agent: AgentConfig;
  process: ProcessType;
  /** A task type such as `coding`; its `[routing.tasks]` entry wins over the process default. */
  task?: string;
}

export interface ModelRoute {
  /** The models to try, in order: the primary, then its fallbacks. Empty when nothing is configured. */
  models: ModelRef[];
  /** Fallbacks left out because the config marks them as more expensive than the primary. */
  skipped: { model: string; reason: 'more_expensive' }[];
}

/**
 * Which models, in which order, answer for this agent and process (and task type):
 *
 * 1. the primary: `[routing.tasks].<task>` if given and configured; else for `channel` the agent's
 *    model (its own `model`, else `routing.channel`, else `defaults.model`); for other processes
 *    `routing.<process>`, else the agent's model;
 * 2. then `[routing.fallbacks]."<primary>"` in order, without duplicates, leaving out entries the
 *    config marks as more expensive than the primary unless the chain or the entry allows it.
 */
export function resolveModels(config: SpacebotConfig, { agent, process, task }: RouteRequest): ModelRoute {
  const primary = (task ? config.routing.tasks[task] : undefined) ?? (process === 'channel' ? agent.model : (config.routing.processes[process] ?? agent.model));
  if (!primary) return { models: [], skipped: [] };
  const primaryKey = formatModelRef(primary);
  const models: ModelRef[] = [primary];
  const seen = new Set([primaryKey]);
  const skipped: ModelRoute['skipped'] = [];
  const chain = config.routing.fallbacks[primaryKey];
  for (const entry of chain?.models ?? []) {
    const key = formatModelRef(entry.model);
    if (seen.has(key)) continue;
    seen.add(key);
    if (!chain?.allowMoreExpensive && !entry.allowMoreExpensive && isMoreExpensive(modelFacts(config, key), modelFacts(config, primaryKey))) {
      skipped.push({ model: key, reason: 'more_expensive' });
      continue;
    }
    models.push(entry.model);
  }
  return { models, skipped };
}

/** `[models]` facts with the configured prices (`[pricing]` wins); built-in list prices do not count here. */
function modelFacts(config: SpacebotConfig, key: string): ModelSettings | undefined {
  const facts = config.models[key];
  const price = config.pricing?.models[key];
  if (!facts && !price) return undefined;
  return { costRank: facts?.costRank, inputPerMtok: price?.input ?? facts?.inputPerMtok, outputPerMtok: price?.output ?? facts?.outputPerMtok };
}

/**
 * Whether the config marks `candidate` as more expensive than `than`: by `cost_rank` when both have
 * one, else by input + output price per Mtok when both have both. Anything unknown is not "more".
 */
export function isMoreExpensive(candidate: ModelSettings | undefined, than: ModelSettings | undefined): boolean {
  if (!candidate || !than) return false;
  if (candidate.costRank !== undefined && than.costRank !== undefined) return candidate.costRank > than.costRank;
  const price = (m: ModelSettings) => (m.inputPerMtok !== undefined && m.outputPerMtok !== undefined ? m.inputPerMtok + m.outputPerMtok : undefined);
  const a = price(candidate);
  const b = price(than);
  return a !== undefined && b !== undefined && a > b;
}
