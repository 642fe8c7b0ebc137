import { CappedOutput, capOutput, MAX_TOOL_OUTPUT_BYTES } from '../../lib/tools/workspace/output-cap.js';

describe('capOutput', () => {
  it('leaves output within the cap alone', () => {
    const text = 'a'.repeat(MAX_TOOL_OUTPUT_BYTES);
    expect(capOutput(text)).toBe(text);
  });

  it('cuts at 50 KB including a note that says how much was cut', () => {
    const text = 'a'.repeat(MAX_TOOL_OUTPUT_BYTES + 10_000);
    const out = capOutput(text);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(MAX_TOOL_OUTPUT_BYTES);
    const note = /\n\[output cut: ([\d.]+) KB at the end not shown \(limit 50\.0 KB per tool result\)\]$/.exec(out);
    expect(note).not.toBeNull();
    const kept = out.slice(0, out.length - (note as RegExpExecArray)[0].length);
    expect(kept).toBe('a'.repeat(kept.length));
    expect(Number((note as RegExpExecArray)[1])).toBeCloseTo((text.length - kept.length) / 1024, 1);
  });

  it('never splits a multi-byte character', () => {
    const out = capOutput('€'.repeat(1000), 1024);
    expect(out).not.toContain('\uFFFD');
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(1024);
  });

  it('is idempotent: a capped result passes a second cap unchanged', () => {
    const once = capOutput('b'.repeat(200_000));
    expect(capOutput(once)).toBe(once);
  });
});

describe('CappedOutput', () => {
  it('keeps everything that fits', () => {
    const c = new CappedOutput(1024);
    c.push(Buffer.from('hello '));
    c.push(Buffer.from('world'));
    expect(c.text()).toBe('hello world');
    expect(c.totalBytes).toBe(11);
  });

  it('keeps the beginning and the end of a long stream and notes the cut middle', () => {
    const c = new CappedOutput(2048, 256);
    c.push(Buffer.from('BEGIN\n'));
    for (let i = 0; i < 1000; i++) c.push(Buffer.from(`line ${i} ${'€'.repeat(5)}\n`));
    c.push(Buffer.from('ERROR: the end\n'));
    const text = c.text();
    expect(text.startsWith('BEGIN\n')).toBe(true);
    expect(text.endsWith('ERROR: the end\n')).toBe(true);
    expect(text).toMatch(/\[output cut: [\d.]+ KB in the middle not shown \(limit 2\.0 KB per tool result\)\]/);
    expect(text).not.toContain('\uFFFD');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2048);
  });
});
