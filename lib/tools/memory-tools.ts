import { createHash } from 'node:crypto';
import { findBadText } from '../text/hygiene.js';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/schema.js';
import type { Embedder } from '../memory/embedder.js';
import { EDGE_TYPES, MAX_CONTENT_BYTES, MEMORY_TYPES, MemoryInputError, type Memory, type MemoryScope } from '../memory/model.js';
import { RECALL_MODES, recall } from '../memory/recall.js';
import { deleteMemory, edgesOf, getMemory, saveMemory } from '../memory/store.js';
import { defineTool, describeInvalidInput, toolDefinition, type Tool } from './tool.js';

/**
 * The agent's memory tools: `memory_save`, `memory_recall`, `memory_delete` (docs/memory.md, "Memory
 * tools"). They need more than the generic ToolContext (a database, an embedder, who is talking and
 * an idempotency key), so they are carried out by `runMemoryTool` with a MemoryToolContext; their
 * `run` only explains that.
 */

export interface MemoryToolContext {
  db: Kysely<Database>;
  /** null: no embedder; memories are saved without embeddings and recall uses full text + graph. */
  embedder: Embedder | null;
  agentId: string;
  /** The channel (or ingestion workflow) the call comes from: a chat scope's id and the memory's source. */
  channelId: string;
  /** The person talking, when known: a user scope's id. Never taken from the model. */
  userId?: string;
  /** The message being handled, recorded as the memory's source. */
  messageId?: string;
  /**
   * Unique to this tool call and stable across retries of the activity running it, e.g.
   * `memoryToolKey(channelId, turnSeq, step, idx, call.id)`: a retried save returns the first save.
   */
  callKey: string;
}

/** Longest idempotency key the store takes; longer call keys are hashed. */
const MAX_KEY_CHARS = 200;
/** Characters of a memory's content shown in recall results. */
const SHOWN_CONTENT_CHARS = 600;

/** A call key from the activity's position; stable across retries and replays of that position. */
export function memoryToolKey(...position: (string | number)[]): string {
  return position.join(':');
}

function idempotencyKey(callKey: string): string {
  const key = `tool:${callKey}`;
  return key.length <= MAX_KEY_CHARS ? key : `tool:sha256:${createHash('sha256').update(callKey).digest('hex')}`;
}

const notDirect = async (): Promise<string> => {
  throw new Error('memory tools need a MemoryToolContext: call runMemoryTool');
};

export const memorySaveTool = defineTool({
  name: 'memory_save',
  description:
    'Remember something for later conversations: a fact, preference, decision, identity detail, event, observation, goal, todo or person. ' +
    'Save one self-contained statement per call. Use scope "user" for things about the person you are talking to, "chat" for this conversation only, ' +
    '"agent" (default) for what is true everywhere. Link it to existing memories by id with `associations`.',
  input: z
    .object({
      content: z
        .string()
        .refine((s) => s.trim().length > 0, 'must not be empty')
        .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_CONTENT_BYTES, `must be at most ${MAX_CONTENT_BYTES} bytes`)
        .describe('The memory, as one self-contained statement (at most 50 KB).'),
      type: z.enum(MEMORY_TYPES).describe('What kind of memory this is.'),
      importance: z.number().min(0).max(1).optional().describe("0 to 1; omit to use the type's default."),
      scope: z.enum(['agent', 'user', 'chat']).optional().describe('Who may recall it: agent (everyone, default), user (only this user), chat (only this conversation).'),
      associations: z
        .array(
          z
            .object({
              id: z.uuid().describe('Id of an existing memory.'),
              type: z.enum(EDGE_TYPES).describe('How the new memory relates to it.'),
              weight: z.number().gt(0).max(1).optional().describe('Strength of the link, (0, 1]; default 1.'),
            })
            .strict(),
        )
        .max(20)
        .optional()
        .describe('Links from the new memory to existing memories.'),
    })
    .strict(),
  run: notDirect,
});

export const memoryRecallTool = defineTool({
  name: 'memory_recall',
  description:
    'Search your memories. mode "hybrid" (default; needs query) finds memories by meaning, words and links; "recent", "important" and "typed" list memories ' +
    '(a query, when given, narrows them to text matches). Results carry ids for memory_save associations and memory_delete.',
  input: z
    .object({
      query: z.string().max(2000).optional().describe('What to look for.'),
      max_results: z.number().int().min(1).max(50).optional().describe('At most this many memories (default 10).'),
      type: z.enum(MEMORY_TYPES).optional().describe('Only memories of this type.'),
      mode: z.enum(RECALL_MODES).optional().describe('hybrid (default), recent, important or typed.'),
    })
    .strict()
    .superRefine((v, ctx) => {
      if ((v.mode ?? 'hybrid') === 'hybrid' && !v.query?.trim()) ctx.addIssue({ code: 'custom', path: ['query'], message: 'a hybrid recall needs a query' });
    }),
  run: notDirect,
});

export const memoryDeleteTool = defineTool({
  name: 'memory_delete',
  description: 'Forget a memory (and its links) by id, e.g. one that is wrong or no longer true.',
  input: z.object({ id: z.uuid().describe('Id of the memory, as memory_recall or memory_save showed it.') }).strict(),
  run: notDirect,
});

export const MEMORY_TOOLS: readonly Tool[] = [memorySaveTool as Tool, memoryRecallTool as Tool, memoryDeleteTool as Tool];
export const MEMORY_TOOL_NAMES: readonly string[] = MEMORY_TOOLS.map((t) => t.name);
export const MEMORY_TOOL_DEFINITIONS = MEMORY_TOOLS.map(toolDefinition);

export function isMemoryTool(name: string): boolean {
  return MEMORY_TOOL_NAMES.includes(name);
}

export interface MemoryToolResult {
  /** Model-readable text: what happened, with ids. */
  content: string;
  /** True when the call was refused (bad arguments, unknown id, no user to scope to): the model may correct itself. */
  isError: boolean;
  /** The memory saved (or found again on retry) by memory_save. */
  memoryId?: string;
  status?: 'created' | 'duplicate' | 'updated';
}

/**
 * Runs one memory tool call. Caller mistakes come back as `isError` results for the model; database
 * and embedder failures are thrown so the calling activity is retried (saves are idempotent by
 * `ctx.callKey`, so the retry never duplicates).
 */
export async function runMemoryTool(name: string, input: unknown, ctx: MemoryToolContext): Promise<MemoryToolResult> {
  const tool = MEMORY_TOOLS.find((t) => t.name === name);
  if (!tool) return { content: `Unknown memory tool "${name}".`, isError: true };
  const parsed = tool.input.safeParse(input);
  if (!parsed.success) return { content: describeInvalidInput(tool, parsed.error), isError: true };
  // The model can be steered into writing NUL or broken surrogates; the database refuses them, and a
  // refused write would only be retried. Say so to the model instead, like any invalid argument.
  const bad = findBadText(parsed.data);
  if (bad) return { content: `Invalid arguments for ${name}: ${bad.path || 'input'}: ${bad.problem}`, isError: true };
  try {
    switch (name) {
      case memorySaveTool.name:
        return await save(parsed.data as z.infer<typeof memorySaveTool.input>, ctx);
      case memoryRecallTool.name:
        return await recallFor(parsed.data as z.infer<typeof memoryRecallTool.input>, ctx);
      default:
        return await remove(parsed.data as z.infer<typeof memoryDeleteTool.input>, ctx);
    }
  } catch (err) {
    if (err instanceof MemoryInputError) return { content: `${name} refused: ${err.message}${err.field ? ` (${err.field})` : ''}.`, isError: true };
    throw err;
  }
}

function scopeFor(kind: 'agent' | 'user' | 'chat' | undefined, ctx: MemoryToolContext): MemoryScope | string {
  if (!kind || kind === 'agent') return { kind: 'agent' };
  if (kind === 'chat') return { kind: 'chat', id: ctx.channelId };
  return ctx.userId ? { kind: 'user', id: ctx.userId } : 'there is no known user in this context; save it with scope "agent" or "chat"';
}

function scopeLabel(scope: MemoryScope): string {
  return scope.kind === 'agent' ? 'agent-wide' : scope.kind === 'user' ? 'this user only' : 'this chat only';
}

/** A memory is visible to this context: agent-wide, this user's or this chat's (as recall sees it). */
function visibleTo(memory: Memory, ctx: MemoryToolContext): boolean {
  if (memory.scope.kind === 'agent') return true;
  if (memory.scope.kind === 'user') return memory.scope.id === ctx.userId;
  return memory.scope.id === ctx.channelId;
}

async function save(input: z.infer<typeof memorySaveTool.input>, ctx: MemoryToolContext): Promise<MemoryToolResult> {
  const scope = scopeFor(input.scope, ctx);
  if (typeof scope === 'string') return { content: `memory_save refused: ${scope}.`, isError: true };
  // Associations may only point at memories this context can see, or the model could probe ids.
  for (const [i, a] of (input.associations ?? []).entries()) {
    const target = await getMemory(ctx.db, ctx.agentId, a.id);
    if (!target || !visibleTo(target, ctx)) return { content: `memory_save refused: no memory ${a.id} (associations.${i}.id).`, isError: true };
  }
  const saved = await saveMemory(ctx.db, ctx.embedder, ctx.agentId, {
    content: input.content,
    type: input.type,
    importance: input.importance,
    scope,
    source: { channel: ctx.channelId, ...(ctx.messageId ? { message: ctx.messageId } : {}) },
    associations: input.associations,
    idempotencyKey: idempotencyKey(ctx.callKey),
  });
  const m = saved.memory;
  const what = `${m.type}, importance ${m.importance.toFixed(2)}, ${scopeLabel(m.scope)}`;
  const links = input.associations?.length ? `; linked to ${input.associations.map((a) => `${a.id} (${a.type})`).join(', ')}` : '';
  const content =
    saved.status === 'updated'
      ? `Saved memory ${m.id} (${what}); it updates the near-identical memory ${saved.supersedes}${links}.`
      : saved.status === 'duplicate'
        ? `Already saved as memory ${m.id} (${what}).`
        : `Saved memory ${m.id} (${what})${links}.`;
  return { content, isError: false, memoryId: m.id, status: saved.status };
}

async function recallFor(input: z.infer<typeof memoryRecallTool.input>, ctx: MemoryToolContext): Promise<MemoryToolResult> {
  const result = await recall(ctx.db, ctx.embedder, ctx.agentId, {
    query: input.query?.trim() || undefined,
    mode: input.mode,
    types: input.type ? [input.type] : undefined,
    limit: input.max_results ?? 10,
    context: { userId: ctx.userId, chatId: ctx.channelId },
  });
  if (result.results.length === 0) return { content: 'No memories found.', isError: false };
  const lines = result.results.map(({ memory: m }, i) => {
    const text = m.content.length > SHOWN_CONTENT_CHARS ? `${m.content.slice(0, SHOWN_CONTENT_CHARS)}…` : m.content;
    return `${i + 1}. [${m.id}] (${m.type}, importance ${m.importance.toFixed(2)}, ${scopeLabel(m.scope)}, updated ${m.updatedAt.slice(0, 10)}) ${text}`;
  });
  return { content: `${result.results.length} memor${result.results.length === 1 ? 'y' : 'ies'}:\n${lines.join('\n')}`, isError: false };
}

async function remove(input: z.infer<typeof memoryDeleteTool.input>, ctx: MemoryToolContext): Promise<MemoryToolResult> {
  const memory = await getMemory(ctx.db, ctx.agentId, input.id);
  // Another user's or chat's memory is answered like a missing one: its existence is not revealed.
  if (!memory || !visibleTo(memory, ctx)) return { content: `No memory ${input.id} to delete.`, isError: true };
  const edges = (await edgesOf(ctx.db, ctx.agentId, input.id))?.length ?? 0;
  const deleted = await deleteMemory(ctx.db, ctx.agentId, input.id);
  // A retried delete finds nothing left: that is still the outcome the model asked for.
  if (!deleted) return { content: `Memory ${input.id} is already deleted.`, isError: false };
  return { content: `Deleted memory ${input.id}${edges ? ` and its ${edges} link${edges === 1 ? '' : 's'}` : ''}.`, isError: false };
}
