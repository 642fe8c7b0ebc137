/**
 * Reads the `text` argument of a `reply` tool call while its JSON arguments are still streaming in,
 * so a reply can be shown as it is written. Fragments arrive in any split (inside keys, escapes or
 * `\uXXXX` sequences); text is only ever returned once it is certain, and never twice.
 */
export class ReplyTextReader {
  private raw = '';
  /** Index in `raw` just after the opening quote of the `text` value, once known. */
  private valueStart: number | undefined;
  /** How far `raw` has been decoded. */
  private pos = 0;
  /** The value ended, or the arguments have no string `text` at the top level: nothing more to read. */
  private finished = false;

  /** Adds a fragment of the arguments' JSON; returns the newly readable text ('' when none). */
  push(fragment: string): string {
    if (this.finished) return '';
    this.raw += fragment;
    if (this.valueStart === undefined) {
      const found = findTextValue(this.raw);
      if (found === 'never') this.finished = true;
      if (typeof found !== 'number') return '';
      this.valueStart = this.pos = found;
    }
    return this.decode();
  }

  /** Decodes from `pos` up to the closing quote or the last complete character. */
  private decode(): string {
    const raw = this.raw;
    let out = '';
    let i = this.pos;
    while (i < raw.length) {
      const c = raw[i] as string;
      if (c === '"') {
        this.finished = true;
        break;
      }
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const escape = readEscape(raw, i);
      if (escape === undefined) break; // incomplete: wait for the next fragment
      out += escape.text;
      i = escape.next;
    }
    this.pos = i;
    return out;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** The escape at `i` (a backslash), or undefined while it is incomplete. Surrogate pairs are read whole. */
function readEscape(raw: string, i: number): { text: string; next: number } | undefined {
  const kind = raw[i + 1];
  if (kind === undefined) return undefined;
  if (kind !== 'u') return { text: SIMPLE_ESCAPES[kind] ?? kind, next: i + 2 };
  const code = hex4(raw, i + 2);
  if (code === undefined) return undefined;
  if (code >= 0xd800 && code <= 0xdbff) {
    // A high surrogate is only shown together with its low half, so no delta ends inside a character.
    if (raw.length < i + 12) return raw[i + 6] !== undefined && raw[i + 6] !== '\\' ? { text: '\ufffd', next: i + 6 } : undefined;
    const low = raw[i + 7] === 'u' ? hex4(raw, i + 8) : undefined;
    if (low !== undefined && low >= 0xdc00 && low <= 0xdfff) return { text: String.fromCharCode(code, low), next: i + 12 };
    return { text: '\ufffd', next: i + 6 };
  }
  return { text: String.fromCharCode(code), next: i + 6 };
}

function hex4(raw: string, at: number): number | undefined {
  const digits = raw.slice(at, at + 4);
  return digits.length === 4 && /^[0-9a-fA-F]{4}$/.test(digits) ? parseInt(digits, 16) : undefined;
}

/** Index of the end of the string starting at `i` (its closing quote), or -1 while it is incomplete. */
function stringEnd(raw: string, i: number): number {
  for (let j = i + 1; j < raw.length; j++) {
    if (raw[j] === '\\') j++;
    else if (raw[j] === '"') return j;
  }
  return -1;
}

/**
 * Where the top-level `text` string value starts (just after its quote); 'later' while the JSON so
 * far does not tell; 'never' when `text` is there but is not a string, or the JSON is no object.
 */
function findTextValue(raw: string): number | 'later' | 'never' {
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (depth === 0 && !/\s|\{/.test(c)) return 'never';
    if (c === '"') {
      const end = stringEnd(raw, i);
      if (end < 0) return 'later';
      if (depth === 1 && expectKey) {
        let j = skipSpace(raw, end + 1);
        if (j >= raw.length) return 'later';
        if (raw[j] !== ':') return 'never';
        j = skipSpace(raw, j + 1);
        if (j >= raw.length) return 'later';
        let key: unknown;
        try {
          key = JSON.parse(raw.slice(i, end + 1));
        } catch {
          return 'never';
        }
        if (key === 'text') return raw[j] === '"' ? j + 1 : 'never';
        expectKey = false;
        i = j - 1;
        continue;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return 'later';
}

function skipSpace(raw: string, i: number): number {
  while (i < raw.length && /\s/.test(raw[i] as string)) i++;
  return i;
}
