import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { SHIPPED_PROMPTS_DIR } from '../config/load.js';
import type { AgentConfig, ModelRef, SpacebotConfig } from '../config/types.js';
import type { Database } from '../db/schema.js';
import type { CooldownRegistry } from '../llm/cooldowns.js';
import { completeWithFallback, type AttemptRecord } from '../llm/fallback.js';
import type { ProviderRegistry } from '../llm/registry.js';
import { resolveModels } from '../llm/routing.js';
import type { ChatMessage, CompletionResult, ContentPart } from '../llm/types.js';
import type { Embedder } from '../memory/embedder.js';
import { memorySaveTool, runMemoryTool } from '../tools/memory-tools.js';
import { toolDefinition, type Tool } from '../tools/tool.js';

/** LLM calls per chunk: the model saves, sees the results, and may save more before it stops. */
export const MAX_EXTRACTION_STEPS = 4;
/** The task type of extraction: `[routing.tasks] ingest = "…"` picks its model, else the cortex route. */
export const INGEST_TASK = 'ingest';

const SAVE_DEFINITION = toolDefinition(memorySaveTool as Tool);

export interface ExtractionDeps {
  config: SpacebotConfig;
  db: Kysely<Database>;
  providers: ProviderRegistry;
  cooldowns: CooldownRegistry;
  embedder: Embedder | null;
}

export interface ExtractionInput {
  agent: AgentConfig;
  filename: string;
  seq: number;
  chunksTotal: number;
  chunkSha256: string;
  text: string;
  /** The ingestion workflow's id: the memories' source, and the ledger's channel. */
  sourceId: string;
  signal: AbortSignal;
  /** Epoch ms after which no new model attempt starts (the activity's own timeout). */
  deadline?: number;
  onAttempt?: (attempts: AttemptRecord[]) => void;
}

export interface ExtractionCall {
  step: number;
  model: ModelRef;
  result: CompletionResult;
  latencyMs: number;
}

export interface ExtractionOutcome {
  memoriesSaved: number;
  memoryIds: string[];
  /** Every answered LLM call, for the ledger. */
  calls: ExtractionCall[];
}

/**
 * Extracts one chunk's memories: the model reads the chunk with only the `memory_save` tool and its
 * saves run at once. Every save's idempotency key is the chunk's hash plus the call's position
 * (step, index), so a retried activity re-saves nothing: the n-th save of a chunk is the same memory
 * however often it is attempted. Ingested memories are agent-wide (there is no user or chat here).
 * Provider errors are thrown as they come (ChainFailure) for the activity to classify.
 */
export async function extractChunkMemories(deps: ExtractionDeps, input: ExtractionInput): Promise<ExtractionOutcome> {
  const route = resolveModels(deps.config, { agent: input.agent, process: 'cortex', task: INGEST_TASK });
  const system = await ingestPrompt(input.agent);
  const messages: ChatMessage[] = [{ role: 'user', parts: [{ type: 'text', text: chunkMessage(input) }] }];
  const calls: ExtractionCall[] = [];
  const memoryIds: string[] = [];
  for (let step = 1; step <= MAX_EXTRACTION_STEPS; step++) {
    const started = Date.now();
    const answer = await completeWithFallback({
      chain: route.models,
      providers: deps.providers,
      cooldowns: deps.cooldowns,
      request: { system, messages, tools: [SAVE_DEFINITION], maxOutputTokens: input.agent.maxOutputTokens, signal: input.signal },
      attemptTimeoutMs: deps.config.routing.attemptTimeoutMs,
      rateLimitCooldownMs: deps.config.routing.rateLimitCooldownMs,
      deadline: input.deadline,
      onAttempt: input.onAttempt,
    });
    calls.push({ step, model: answer.model, result: answer.result, latencyMs: Date.now() - started });
    const { result } = answer;
    if (result.toolCalls.length === 0) break;
    const parts: ContentPart[] = [...(result.text ? [{ type: 'text' as const, text: result.text }] : []), ...result.toolCalls];
    messages.push({ role: 'assistant', parts });
    const results: ContentPart[] = [];
    for (const [idx, call] of result.toolCalls.entries()) {
      if (call.name !== memorySaveTool.name) {
        results.push({ type: 'tool_result', toolCallId: call.id, content: `Only memory_save is available while reading a document, not "${call.name}".`, isError: true });
        continue;
      }
      const outcome = await runMemoryTool(call.name, { ...call.input, scope: 'agent' }, {
        db: deps.db,
        embedder: deps.embedder,
        agentId: input.agent.id,
        channelId: input.sourceId,
        messageId: `chunk:${input.seq}:${input.chunkSha256}`,
        callKey: `ingest:${input.chunkSha256}:${step}:${idx}`,
      });
      if (!outcome.isError && outcome.memoryId) memoryIds.push(outcome.memoryId);
      results.push({ type: 'tool_result', toolCallId: call.id, content: outcome.content, isError: outcome.isError });
    }
    messages.push({ role: 'user', parts: results });
    if (step === MAX_EXTRACTION_STEPS) break;
  }
  return { memoriesSaved: new Set(memoryIds).size, memoryIds: [...new Set(memoryIds)], calls };
}

function chunkMessage(input: ExtractionInput): string {
  return `Document "${input.filename}", part ${input.seq + 1} of ${input.chunksTotal}:\n\n<document-part>\n${input.text}\n</document-part>\n\nSave what is worth remembering from this part.`;
}

/** prompts/INGEST.md, or the agent's own copy in its prompts_dir. */
async function ingestPrompt(agent: AgentConfig): Promise<string> {
  let text: string;
  try {
    text = await readFile(path.join(agent.promptsDir, 'INGEST.md'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    text = await readFile(path.join(SHIPPED_PROMPTS_DIR, 'INGEST.md'), 'utf8');
  }
  return text.trim().replaceAll('{{agent_name}}', agent.name);
}
