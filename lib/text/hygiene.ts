/**
 * The one rule for text that enters Spacebot from outside (API bodies, queries and path params, chat
 * platforms, heartbeat prompts, memories, ingested files): no NUL characters and no unpaired UTF-16
 * surrogates. PostgreSQL cannot store either in `text` (NUL is refused outright; a lone surrogate has
 * no UTF-8 form), and an activity that keeps failing on such a row would wedge its conversation.
 *
 * Doors where the sender is a person or the operator reject (`textProblem` → 400 naming the field);
 * doors where a platform or a file hands us the text remove the characters (`cleanText`), always the
 * same way, so what is stored is what every reader sees.
 */

// Code units, not code points (no `u` flag): a lone surrogate is a code unit without its partner.
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const BAD_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const BAD_TEXT_ALL = new RegExp(BAD_TEXT.source, 'g');

/** The rule in words, for schemas that refuse such text. */
export const CLEAN_TEXT_RULE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/** What is wrong with `value`, in words fit for an error message; undefined when it is clean. */
export function textProblem(value: string): string | undefined {
  const m = BAD_TEXT.exec(value);
  if (!m) return undefined;
  return m[0] === '\u0000' ? 'must not contain NUL characters (\\u0000)' : 'must not contain unpaired UTF-16 surrogates (invalid Unicode)';
}

export function isCleanText(value: string): boolean {
  return !BAD_TEXT.test(value);
}

/** Removes NUL characters and unpaired surrogates (paired surrogates, i.e. emoji, stay). */
export function cleanText(value: string): string {
  return BAD_TEXT.test(value) ? value.replace(BAD_TEXT_ALL, '') : value;
}

/** `cleanText` for an optional value. */
export function cleanOptional<T extends string | null | undefined>(value: T): T {
  return (typeof value === 'string' ? cleanText(value) : value) as T;
}

export interface TextFinding {
  /** Dotted path of the offending value (or key) inside `value`, e.g. `sender.name` or `tags.2`. */
  path: string;
  problem: string;
}

/**
 * The first string (value or object key) in a parsed JSON value, query or params object that breaks
 * the rule. Breadth is bounded by the body limit; the walk stops at `maxDepth` so a deeply nested
 * body cannot exhaust the stack.
 */
export function findBadText(value: unknown, path: string[] = [], maxDepth = 64): TextFinding | undefined {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem ? { path: path.join('.'), problem } : undefined;
  }
  if (value === null || typeof value !== 'object' || path.length >= maxDepth) return undefined;
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return undefined; // raw uploads: bytes, not text
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findBadText(item, [...path, String(i)], maxDepth);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const keyProblem = textProblem(key);
    if (keyProblem) return { path: [...path, JSON.stringify(key)].join('.'), problem: `field names ${keyProblem}` };
    const found = findBadText(item, [...path, key], maxDepth);
    if (found) return found;
  }
  return undefined;
}
