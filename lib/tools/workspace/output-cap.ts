/**
 * Tool output is capped so one call cannot flood the model's context. The cap is in UTF-8 bytes (what
 * `[tools] max_output_bytes` configures); a cut never splits a character, and the note says how much
 * was left out so the model knows to narrow its request (a line range, `head`, `grep`).
 */

/** 50 KB: the default cap of one tool result. */
export const MAX_TOOL_OUTPUT_BYTES = 51_200;

/**
 * Room kept for the note inside the budget, so a capped result stays within `maxBytes` as a whole and a
 * second cap further along (the tool activity's) leaves it alone.
 */
export const CUT_NOTE_RESERVE_BYTES = 160;

/** Cuts `text` to at most `maxBytes` UTF-8 bytes including the note, keeping the beginning. */
export function capOutput(text: string, maxBytes: number = MAX_TOOL_OUTPUT_BYTES): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const kept = utf8Prefix(bytes, Math.max(0, maxBytes - CUT_NOTE_RESERVE_BYTES));
  return `${kept.toString('utf8')}\n${cutNote(bytes.length - kept.length, maxBytes)}`;
}

/** The note appended where output was cut. */
export function cutNote(omittedBytes: number, limitBytes: number, where = 'at the end'): string {
  return `[output cut: ${formatBytes(omittedBytes)} ${where} not shown (limit ${formatBytes(limitBytes)} per tool result)]`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * Collects a stream (a shell command's stdout and stderr) within a byte budget without buffering all of
 * it: it keeps the beginning and the last `tailBytes`, since a command's errors usually come last, and
 * counts what fell in between.
 */
export class CappedOutput {
  private readonly maxBytes: number;
  private readonly headLimit: number;
  private readonly tailLimit: number;
  private head: Buffer[] = [];
  private headSize = 0;
  /** Recent chunks beyond the head; trimmed from the front to stay near `tailLimit`. */
  private tail: Buffer[] = [];
  private tailSize = 0;
  private total = 0;

  /** `maxBytes` bounds the text() result, note included. */
  constructor(maxBytes: number = MAX_TOOL_OUTPUT_BYTES, tailBytes: number = Math.floor(maxBytes / 4)) {
    this.maxBytes = maxBytes;
    const budget = Math.max(0, maxBytes - CUT_NOTE_RESERVE_BYTES);
    this.tailLimit = Math.min(tailBytes, budget);
    this.headLimit = budget - this.tailLimit;
  }

  /** Everything pushed, including what was left out. */
  get totalBytes(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headSize < this.headLimit) {
      const take = Math.min(this.headLimit - this.headSize, rest.length);
      this.head.push(rest.subarray(0, take));
      this.headSize += take;
      rest = rest.subarray(take);
    }
    if (!rest.length) return;
    this.tail.push(Buffer.from(rest));
    this.tailSize += rest.length;
    while (this.tail.length > 1 && this.tailSize - (this.tail[0] as Buffer).length >= this.tailLimit) {
      this.tailSize -= (this.tail.shift() as Buffer).length;
    }
  }

  /** The collected text, with a note in the middle when something was left out. */
  text(): string {
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);
    if (tail.length > this.tailLimit) tail = tail.subarray(tail.length - this.tailLimit);
    if (head.length + tail.length >= this.total) return Buffer.concat([head, tail]).toString('utf8');
    // Cut at character boundaries on both sides so no replacement characters appear.
    const headKept = utf8Prefix(head, head.length);
    const tailKept = utf8Suffix(tail);
    const omitted = this.total - headKept.length - tailKept.length;
    return `${headKept.toString('utf8')}\n${cutNote(omitted, this.maxBytes, 'in the middle')}\n${tailKept.toString('utf8')}`;
  }
}

/** The longest prefix of `bytes` of at most `max` bytes that ends on a character boundary. */
function utf8Prefix(bytes: Buffer, max: number): Buffer {
  let end = Math.min(max, bytes.length);
  // Step back over continuation bytes (10xxxxxx) to the lead byte, and drop the incomplete character.
  if (end < bytes.length) {
    while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  } else {
    let start = end - 1;
    while (start > 0 && ((bytes[start] as number) & 0xc0) === 0x80) start--;
    if (start >= 0 && start < end && end - start < utf8Length(bytes[start] as number)) end = start;
  }
  return bytes.subarray(0, end);
}

/** `bytes` without leading continuation bytes (the tail of a character cut in front). */
function utf8Suffix(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length && ((bytes[start] as number) & 0xc0) === 0x80) start++;
  return bytes.subarray(start);
}

function utf8Length(lead: number): number {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) === 0xc0) return 2;
  if ((lead & 0xf0) === 0xe0) return 3;
  if ((lead & 0xf8) === 0xf0) return 4;
  return 1;
}
