import type { SpacebotConfig } from '../config/types.js';
import { LEAK_PATTERNS, SECRET_CONTEXT_WORDS, SECRET_STARTS } from './leak-patterns.js';
import { configuredSecrets } from './configured-secrets.js';

/**
 * The one leak guard (issue 13, finding 4). Everything that leaves the process or outlives the moment
 * — tool output before it is stored or shown to a model, outbound replies and streamed drafts, run
 * timelines, log lines — passes through `redact` first. It knows every configured secret literally
 * and the usual shapes of credentials (leak-patterns.ts); what it removes becomes `[redacted: <kind>]`.
 */

/** What was removed, e.g. `anthropic key`, `jwt`, `configured secret ANTHROPIC_API_KEY`. */
export type LeakKind = string;

export interface RedactResult {
  text: string;
  /** The kinds removed, each once, in order of first appearance; empty when the text was clean. */
  kinds: LeakKind[];
}

export interface StreamRedactor {
  /** Takes the next chunk; returns the redacted text that can safely be shown now. */
  push(chunk: string): string;
  /** The end of the stream: returns whatever was still held back, redacted. */
  flush(): string;
  /** Every kind removed so far across the stream. */
  readonly kinds: LeakKind[];
}

/**
 * Configured values shorter than this are ignored: a 4-character "password" would redact ordinary
 * words everywhere, and such a value protects nothing anyway.
 */
export const MIN_SECRET_LENGTH = 8;

/** A stream never holds back more than this many characters (a run with no whitespace at all). */
const MAX_HOLD = 64 * 1024;

/** The last `count` whitespace-separated words of `text`, with where each starts and ends. */
function lastWords(text: string, count: number): { word: string; start: number; end: number }[] {
  const words: { word: string; start: number; end: number }[] = [];
  let i = text.length;
  while (words.length < count && i > 0) {
    while (i > 0 && /\s/.test(text[i - 1]!)) i--;
    const end = i;
    while (i > 0 && !/\s/.test(text[i - 1]!)) i--;
    if (end > i) words.unshift({ word: text.slice(i, end), start: i, end });
  }
  return words;
}

/**
 * Whether `word` holds, from any position on, one of `starts` or a beginning of one (the word may be
 * incomplete: `s`, `sk`, `AKI`, `:/`). Any position, not only word boundaries: redacting a known
 * value inside the word can make a boundary where there was none. `trim` drops what may follow a
 * context word.
 */
function beginsAny(word: string, starts: readonly string[], trim?: RegExp): boolean {
  for (let i = 0; i < word.length; i++) {
    const rest = trim ? word.slice(i).replace(trim, '') : word.slice(i);
    if (rest && starts.some((start) => rest.startsWith(start) || start.startsWith(rest))) return true;
  }
  return false;
}

/** The stream's last word is, or may still become, a credential or a context word: held until the next piece says. */
function mayStartSecret(word: string): boolean {
  return beginsAny(word, SECRET_STARTS) || beginsAny(word, SECRET_CONTEXT_WORDS, CONTEXT_TRAIL);
}

/** What may follow a context word inside its word: `aws_secret_access_key="`. */
const CONTEXT_TRAIL = /["']?\s*[:=]?\s*["']?$/;

/** A complete context word (`Bearer`, `aws_secret_access_key=`): the credential follows it. */
function isContextWord(word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    const rest = word.slice(i).replace(CONTEXT_TRAIL, '');
    if (SECRET_CONTEXT_WORDS.includes(rest)) return true;
  }
  return false;
}

function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function redactionLabel(kind: LeakKind): string {
  return `[redacted: ${kind}]`;
}

export class LeakGuard {
  /** value → name; each value also under its URL-encoded form when that differs. */
  private readonly known = new Map<string, string>();
  /** One alternation of every known value, longest first; rebuilt when a secret is added. */
  private knownRegex: RegExp | null = null;

  constructor(known?: Iterable<{ name: string; value: string }>) {
    for (const { name, value } of known ?? []) this.addSecret(name, value);
  }

  /** Registers a secret by name (e.g. a secrets-store value); values under MIN_SECRET_LENGTH are ignored. */
  addSecret(name: string, value: string): void {
    const trimmed = value.trim();
    if (trimmed.length < MIN_SECRET_LENGTH) return;
    for (const form of new Set([value, trimmed, encodeURIComponent(trimmed)])) {
      if (form.length >= MIN_SECRET_LENGTH && !this.known.has(form)) this.known.set(form, name);
    }
    this.knownRegex = null;
  }

  /** How many literal values the guard knows (for start-up logs; never the values). */
  get size(): number {
    return this.known.size;
  }

  redact(text: string): RedactResult {
    if (!text) return { text, kinds: [] };
    const kinds: LeakKind[] = [];
    const note = (kind: LeakKind): string => {
      if (!kinds.includes(kind)) kinds.push(kind);
      return redactionLabel(kind);
    };
    let out = text;
    // Known values first: the most specific label, and a configured key is caught whatever its shape.
    const known = this.literalRegex();
    if (known) out = out.replace(known, (match) => note(`configured secret ${this.known.get(match) ?? 'value'}`));
    for (const { kind, regex } of LEAK_PATTERNS) {
      regex.lastIndex = 0;
      if (!regex.test(out)) continue;
      regex.lastIndex = 0;
      out = out.replace(regex, (match: string, ...rest: unknown[]) => {
        const groups = rest[rest.length - 1] as Record<string, string | undefined> | undefined;
        const secret = typeof groups === 'object' && groups ? groups.secret : undefined;
        if (secret === undefined) return note(kind);
        // Keep the context (`Bearer `, `postgres://user:`), replace only the credential; a value
        // already redacted by an earlier rule is left as it is.
        if (secret.startsWith('[redacted')) return match;
        const at = match.lastIndexOf(secret);
        return match.slice(0, at) + note(kind) + match.slice(at + secret.length);
      });
    }
    return { text: out, kinds };
  }

  /**
   * A redactor for text that arrives in chunks (streamed replies). It emits everything except a tail
   * that could still be, or begin, a secret: a last word that is or may become a credential, a
   * context word (`Bearer`) among the last three and what follows it, an open PEM block, and any
   * suffix that begins a known value. A cut never splits a match. Redaction is applied to what is
   * emitted, so a secret split across chunks is caught whole, and ordinary text flows at once.
   */
  streamRedactor(): StreamRedactor {
    let pending = '';
    const kinds: LeakKind[] = [];
    const emit = (text: string): string => {
      const result = this.redact(text);
      for (const kind of result.kinds) if (!kinds.includes(kind)) kinds.push(kind);
      return result.text;
    };
    return {
      kinds,
      push: (chunk: string): string => {
        pending += chunk;
        const hold = this.notInsideMatch(pending, this.holdFrom(pending));
        const ready = pending.slice(0, hold);
        pending = pending.slice(hold);
        return ready ? emit(ready) : '';
      },
      flush: (): string => {
        const rest = pending;
        pending = '';
        return rest ? emit(rest) : '';
      },
    };
  }

  /** Where the still-open tail of `text` starts (text.length when nothing need be held). */
  private holdFrom(text: string): number {
    let hold = text.length;
    // The last word, when it is or may still become a credential (or a context word).
    const [last] = lastWords(text, 1);
    if (last && last.end === text.length && mayStartSecret(last.word)) hold = last.start;
    // A context word is never shown apart from the credential after it: while one is among the
    // three words before the cut, the cut moves before it.
    for (let moved = true; moved; ) {
      const context = lastWords(text.slice(0, hold), 3).find((w) => isContextWord(w.word));
      moved = context !== undefined;
      if (context) hold = context.start;
    }
    // An open PEM block, or the beginning of its header.
    const begin = text.lastIndexOf('-----BEGIN');
    if (begin >= 0 && !/-----END [A-Z0-9 ]*-----/.test(text.slice(begin))) hold = Math.min(hold, begin);
    const dashes = /-{1,5}(?:B(?:E(?:G(?:I(?:N)?)?)?)?)?$/.exec(text);
    if (dashes) hold = Math.min(hold, dashes.index);
    // A suffix that starts a known value (values may contain spaces).
    for (const value of this.known.keys()) {
      const max = Math.min(value.length - 1, text.length);
      for (let n = max; n > 0; n--) {
        if (text.endsWith(value.slice(0, n))) {
          hold = Math.min(hold, text.length - n);
          break;
        }
      }
    }
    // A stream of one endless word is still emitted eventually (redacted), so memory stays bounded.
    return Math.max(hold, text.length - MAX_HOLD);
  }

  /**
   * Moves a cut point back to the start of any match it would split: a match's context (`Bearer`)
   * and its credential must be redacted together, never in two emits.
   */
  private notInsideMatch(text: string, cut: number): number {
    const regexes = [this.literalRegex(), ...LEAK_PATTERNS.map((p) => p.regex)].filter((r): r is RegExp => r !== null);
    for (let moved = true, rounds = 0; moved && rounds < 10; rounds++) {
      moved = false;
      for (const regex of regexes) {
        regex.lastIndex = 0;
        for (const match of text.matchAll(regex)) {
          if (match.index >= cut) break;
          if (match.index + match[0].length > cut) {
            cut = match.index;
            moved = true;
          }
        }
      }
    }
    return cut;
  }

  private literalRegex(): RegExp | null {
    if (this.known.size === 0) return null;
    if (!this.knownRegex) {
      const values = [...this.known.keys()].sort((a, b) => b.length - a.length).map(escapeRegex);
      this.knownRegex = new RegExp(values.join('|'), 'g');
    }
    this.knownRegex.lastIndex = 0;
    return this.knownRegex;
  }
}

/** The guard for a loaded configuration: every secret in it and every known secret variable of `env`. */
export function leakGuardFor(config: SpacebotConfig, env: NodeJS.ProcessEnv = process.env): LeakGuard {
  return new LeakGuard(configuredSecrets(config, env));
}

const guardsByConfig = new WeakMap<SpacebotConfig, LeakGuard>();

/**
 * The guard of `deps` when it carries one, else one built from its config (and the process
 * environment) once per config object: call sites without an injected guard stay one line.
 */
export function leakGuardOf(deps: { config: SpacebotConfig; leakGuard?: LeakGuard }): LeakGuard {
  if (deps.leakGuard) return deps.leakGuard;
  let guard = guardsByConfig.get(deps.config);
  if (!guard) guardsByConfig.set(deps.config, (guard = leakGuardFor(deps.config)));
  return guard;
}

/** Redacts every string inside a JSON-like value (run timelines, log objects); other values pass through. */
export function redactDeep<T>(guard: LeakGuard, value: T, found?: LeakKind[]): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') {
      const result = guard.redact(v);
      if (found) for (const kind of result.kinds) if (!found.includes(kind)) found.push(kind);
      return result.text;
    }
    if (depth > 20 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    // Plain objects and errors are copied with their strings redacted (errors keep their prototype, so
    // their type's name). Other class instances are left to their own serialisation: a framework's
    // request object (Fastify logs one per request) has getters and sockets that a copy would break.
    const proto = Object.getPrototypeOf(v) as object | null;
    const plain = proto === Object.prototype || proto === null;
    if (!plain && !(v instanceof Error)) return v;
    const copy = (plain ? {} : Object.create(proto)) as Record<string, unknown>;
    for (const [k, item] of Object.entries(v)) copy[k] = walk(item, depth + 1);
    return copy;
  };
  return walk(value, 0) as T;
}
