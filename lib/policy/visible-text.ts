/**
 * Model-written text (a command, a file's content) as an approver must see it: every character that
 * would not show, or would change how the rest shows, is written out as a `\uXXXX` escape. Control
 * characters (a carriage return that hides what came before it, a tab), bidi overrides and isolates
 * (that reorder what a person reads), zero-width and other format characters, line and paragraph
 * separators, unusual spaces, invisible fillers, variation selectors, private-use, unassigned and
 * lone-surrogate code points. Newlines stay newlines: the notice shows each line on its own line.
 * A run of three or more backticks is escaped too, so it cannot close the code block it is shown in.
 * A literal `\u202e` typed by the model reads the same as an escaped one; that only ever makes a
 * command look more suspicious, never hides anything.
 */
// Default_Ignorable_Code_Point covers what renders as nothing (zero-width, fillers, variation selectors, tags).
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Default_Ignorable_Code_Point}\u2800]/u;

/** One token per code point, except that a run of backticks (fence material) is one token. */
const TOKENS = /`+|[^]/gsu;

function escapeCodePoint(c: string): string {
  const cp = c.codePointAt(0)!;
  return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** The visible form of one token of TOKENS. */
function visibleToken(token: string): string {
  if (token.startsWith('`')) return token.length >= 3 ? [...token].map(escapeCodePoint).join('') : token;
  if (token === '\n' || token === ' ') return token;
  return INVISIBLE.test(token) ? escapeCodePoint(token) : token;
}

export function visibleText(text: string): string {
  return text.replace(TOKENS, visibleToken);
}

/**
 * The longest start of `text` whose visible form, passed through `decorate` (mention defusing), fits
 * in `budget` characters, cut between characters (never inside an escape), and how many characters
 * of `text` were left out, so the caller can say so rather than cut silently.
 */
export function visiblePrefix(text: string, budget: number, decorate: (s: string) => string = (s) => s): { shown: string; omitted: number } {
  let shown = '';
  let taken = 0;
  let total = 0;
  let full = true;
  for (const match of text.matchAll(TOKENS)) {
    const token = match[0];
    const chars = [...token].length;
    total += chars;
    if (!full) continue;
    const piece = decorate(visibleToken(token));
    if (shown.length + piece.length > budget) {
      full = false;
      continue;
    }
    shown += piece;
    taken += chars;
  }
  return { shown, omitted: total - taken };
}
