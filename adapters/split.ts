/**
 * Splits a reply into parts that each fit one platform message (Discord 2,000, Slack ~4,000,
 * Telegram 4,096 characters), so that Markdown formatting survives the split:
 *
 * - it prefers, in order, a paragraph break, a line break, then a space, and only cuts a word when a
 *   single word is longer than a part;
 * - it never cuts inside a fenced code block when a break outside one is available in the second half
 *   of the part; when a code block itself is longer than a part, it closes the fence at the end of the
 *   part and reopens it (with the same language tag) at the start of the next, so every part renders
 *   as valid Markdown on its own.
 *
 * Lengths are counted in UTF-16 code units (what Discord, Slack and Telegram count); a surrogate pair
 * is never cut in half.
 */

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/** Smallest limit that leaves room for a reopened fence, a closing fence and some text. */
const MIN_MAX_CHARS = 16;

interface Fence {
  /** The opening line as written (e.g. "```ts"), repeated at the start of a continuation part. */
  openLine: string;
  /** The fence characters ("```", "~~~~"); a closing line must start with at least these. */
  marker: string;
}

interface Line {
  start: number;
  /** Offset just past the line's "\n" (or the end of the text). */
  end: number;
  /** The fence open at the start of this line (null outside a code block). */
  fenceBefore: Fence | null;
  /** This line opens or closes a fence. */
  isFence: boolean;
}

export function splitMessage(text: string, maxChars: number): string[] {
  if (!Number.isInteger(maxChars) || maxChars < MIN_MAX_CHARS) {
    throw new RangeError(`splitMessage: maxChars must be an integer >= ${MIN_MAX_CHARS}, got ${maxChars}`);
  }
  if (text.length <= maxChars) return text.length > 0 ? [text] : [];

  const parts: string[] = [];
  let rest = text;
  let openFence: Fence | null = null;
  while (rest.length > 0) {
    const prefix = openFence ? `${openFence.openLine}\n` : '';
    if (prefix.length + rest.length <= maxChars) {
      parts.push(prefix + rest);
      break;
    }
    const lines = scanLines(rest, openFence);
    const cut = chooseCut(rest, lines, maxChars - prefix.length);
    const body = rest.slice(0, cut.at);
    let part: string;
    if (cut.inside) {
      // Close the block so this part renders on its own; the next part reopens it.
      part = `${prefix}${body.endsWith('\n') ? body : `${body}\n`}${cut.inside.marker}`;
    } else {
      part = prefix + body.replace(/\s+$/, '');
    }
    if (part.trim().length > 0) parts.push(part);
    rest = rest.slice(cut.at + cut.skip);
    openFence = cut.inside;
    if (!openFence) rest = rest.replace(/^\s+/, '');
  }
  return parts;
}

function scanLines(text: string, initial: Fence | null): Line[] {
  const lines: Line[] = [];
  let fence = initial;
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline + 1;
    const content = text.slice(start, newline === -1 ? text.length : newline);
    const match = FENCE.exec(content);
    let isFence = false;
    const fenceBefore = fence;
    if (match) {
      const marker = match[1] ?? '```';
      if (!fence) {
        fence = { openLine: content.trim(), marker };
        isFence = true;
      } else if (marker[0] === fence.marker[0] && marker.length >= fence.marker.length && (match[2] ?? '').trim() === '') {
        fence = null;
        isFence = true;
      }
    }
    lines.push({ start, end, fenceBefore, isFence });
    start = end;
  }
  return lines;
}

interface Cut {
  /** The part is text.slice(0, at). */
  at: number;
  /** Characters dropped after the cut (the space a line was wrapped at). */
  skip: number;
  /** The fence left open at the cut: the part closes it, the next part reopens it. */
  inside: Fence | null;
}

function chooseCut(text: string, lines: Line[], budget: number): Cut {
  // Cuts inside a code block need room for the closing fence appended to the part ("\n```").
  const fits = (cut: Cut): boolean => cut.at > 0 && cut.at + (cut.inside ? cut.inside.marker.length + 1 : 0) <= budget;

  const paragraph: Cut[] = [];
  const lineOut: Cut[] = [];
  const lineIn: Cut[] = [];
  const spaceOut: Cut[] = [];
  const spaceIn: Cut[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.start > budget) break;
    if (i > 0) {
      const previous = lines[i - 1]!;
      // State at this line's start = the state after the previous line.
      const stateHere = line.fenceBefore;
      const cut: Cut = { at: line.start, skip: 0, inside: stateHere };
      if (stateHere) {
        // Cutting right before the closing fence would leave an empty block in the next part.
        if (!line.isFence && fits(cut)) lineIn.push(cut);
      } else if (fits(cut)) {
        const blank = text.slice(previous.start, previous.end).trim() === '';
        (blank ? paragraph : lineOut).push(cut);
      }
    }
    if (line.isFence) continue;
    const inside = line.fenceBefore;
    for (let at = text.indexOf(' ', line.start); at !== -1 && at < line.end && at <= budget; at = text.indexOf(' ', at + 1)) {
      const cut: Cut = { at, skip: 1, inside };
      if (fits(cut)) (inside ? spaceIn : spaceOut).push(cut);
    }
  }

  const tiers = [paragraph, lineOut, lineIn, spaceOut, spaceIn];
  // A good break fills at least half the part; otherwise take the best-ranked break at all.
  for (const tier of tiers) {
    const best = tier.at(-1);
    if (best && best.at >= budget / 2) return best;
  }
  for (const tier of tiers) {
    const best = tier.at(-1);
    if (best) return best;
  }
  return hardCut(text, lines, budget);
}

/** No whitespace to break at: cut the word, keeping surrogate pairs whole. */
function hardCut(text: string, lines: Line[], budget: number): Cut {
  const line = lines.find((l) => l.end > budget - 1) ?? lines.at(-1)!;
  const inside = line.fenceBefore;
  let at = budget - (inside ? inside.marker.length + 1 : 0);
  const code = text.charCodeAt(at - 1);
  if (code >= 0xd800 && code <= 0xdbff) at -= 1;
  return { at: Math.max(at, 1), skip: 0, inside };
}
