import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeFileTools, MAX_LIST_ENTRIES, MAX_WRITE_BYTES } from '../../lib/tools/workspace/file-tools.js';
import { callTool, context, scratch, type Scratch } from './helpers.js';

let s: Scratch;
const { fileRead, fileWrite, fileEdit, fileList } = makeFileTools();
const ctx = () => context(s.workspace);
const file = (rel: string) => path.join(s.workspace, rel);

beforeEach(() => {
  s = scratch();
  mkdirSync(s.workspace, { recursive: true });
});
afterEach(() => s.remove());

describe('file_read', () => {
  beforeEach(() => writeFileSync(file('poem.txt'), ['one', 'two', 'three', 'four', 'five'].join('\n') + '\n'));

  it('returns the whole file with the total line count', async () => {
    expect(await callTool(fileRead, { path: 'poem.txt' }, ctx())).toBe('[poem.txt: lines 1-5 of 5]\none\ntwo\nthree\nfour\nfive');
  });

  it('pages with offset and limit and says where to read on', async () => {
    expect(await callTool(fileRead, { path: 'poem.txt', offset: 2, limit: 2 }, ctx())).toBe('[poem.txt: lines 2-3 of 5; use offset=4 to read on]\ntwo\nthree');
  });

  it('explains a missing file, a directory, an offset past the end and binary content', async () => {
    await expect(callTool(fileRead, { path: 'nope.txt' }, ctx())).rejects.toThrow(/"nope.txt" does not exist in the workspace/);
    mkdirSync(file('dir'));
    await expect(callTool(fileRead, { path: 'dir' }, ctx())).rejects.toThrow(/is a directory; use file_list/);
    await expect(callTool(fileRead, { path: 'poem.txt', offset: 9 }, ctx())).rejects.toThrow(/offset 9 is past the end of "poem.txt", which has 5 lines/);
    writeFileSync(file('blob.bin'), Buffer.from([1, 0, 2, 3]));
    expect(await callTool(fileRead, { path: 'blob.bin' }, ctx())).toBe('"blob.bin" is a binary file (4 bytes); not shown.');
  });

  it('caps a long result with a note saying how much was cut', async () => {
    const small = makeFileTools({ maxOutputBytes: 2048 });
    writeFileSync(file('big.txt'), 'x'.repeat(100).concat('\n').repeat(100));
    const out = await callTool(small.fileRead, { path: 'big.txt' }, ctx());
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(2048);
    expect(out).toMatch(/\[output cut: [\d.]+ KB at the end not shown \(limit 2\.0 KB per tool result\)\]$/);
    expect(out.startsWith('[big.txt: lines 1-100 of 100]\n')).toBe(true);
  });

  it('rejects arguments outside its schema', async () => {
    await expect(callTool(fileRead, { path: 'poem.txt', offset: 0 }, ctx())).rejects.toThrow();
    await expect(callTool(fileRead, { path: 'poem.txt', extra: true }, ctx())).rejects.toThrow();
  });
});

describe('file_write', () => {
  it('creates parent directories, then replaces the file', async () => {
    expect(await callTool(fileWrite, { path: 'a/b/c.txt', content: 'hello\nworld\n' }, ctx())).toBe('Created a/b/c.txt (12 bytes, 2 lines).');
    expect(readFileSync(file('a/b/c.txt'), 'utf8')).toBe('hello\nworld\n');
    expect(await callTool(fileWrite, { path: 'a/b/c.txt', content: 'bye' }, ctx())).toBe('Replaced a/b/c.txt (3 bytes, 1 line).');
    expect(readFileSync(file('a/b/c.txt'), 'utf8')).toBe('bye');
  });

  it('refuses content over 1 MB and writes nothing', async () => {
    const content = 'é'.repeat(MAX_WRITE_BYTES / 2 + 1); // over the limit in bytes, under it in characters
    await expect(callTool(fileWrite, { path: 'huge.txt', content }, ctx())).rejects.toThrow(/content is 1\.0 MB; file_write takes at most 1\.0 MB per call/);
    expect(existsSync(file('huge.txt'))).toBe(false);
  });

  it('refuses to overwrite a directory', async () => {
    mkdirSync(file('dir'));
    await expect(callTool(fileWrite, { path: 'dir', content: 'x' }, ctx())).rejects.toThrow(/"dir" is a directory/);
  });
});

describe('file_edit', () => {
  beforeEach(() => writeFileSync(file('code.ts'), 'const a = 1;\nconst b = 2;\nconst a2 = 1;\n'));

  it('replaces text that occurs exactly once', async () => {
    expect(await callTool(fileEdit, { path: 'code.ts', old_text: 'const b = 2;', new_text: 'const b = 3;\nconst c = $&;' }, ctx())).toBe(
      'Edited code.ts: replaced 1 occurrence (now lines 2-3).',
    );
    expect(readFileSync(file('code.ts'), 'utf8')).toBe('const a = 1;\nconst b = 3;\nconst c = $&;\nconst a2 = 1;\n');
  });

  it('refuses text that does not occur (0 matches)', async () => {
    await expect(callTool(fileEdit, { path: 'code.ts', old_text: 'const z', new_text: 'x' }, ctx())).rejects.toThrow(/old_text was not found in code\.ts \(0 matches\)/);
    expect(readFileSync(file('code.ts'), 'utf8')).toBe('const a = 1;\nconst b = 2;\nconst a2 = 1;\n');
  });

  it('refuses text that occurs more than once (N matches)', async () => {
    await expect(callTool(fileEdit, { path: 'code.ts', old_text: '= 1;', new_text: '= 9;' }, ctx())).rejects.toThrow(/old_text occurs 2 times in code\.ts \(2 matches\); include more surrounding text/);
    expect(readFileSync(file('code.ts'), 'utf8')).toBe('const a = 1;\nconst b = 2;\nconst a2 = 1;\n');
  });

  it('explains a missing file', async () => {
    await expect(callTool(fileEdit, { path: 'none.ts', old_text: 'a', new_text: 'b' }, ctx())).rejects.toThrow(/"none.ts" does not exist/);
  });
});

describe('file_list', () => {
  beforeEach(() => {
    mkdirSync(file('src/lib'), { recursive: true });
    mkdirSync(file('node_modules/pkg'), { recursive: true });
    writeFileSync(file('README.md'), '#');
    writeFileSync(file('src/main.ts'), '');
    writeFileSync(file('src/lib/util.ts'), '');
    writeFileSync(file('node_modules/pkg/index.js'), '');
  });

  it('lists the workspace by default, directories marked with "/"', async () => {
    expect((await callTool(fileList, {}, ctx())).split('\n')).toEqual(['README.md', 'node_modules/', 'src/']);
  });

  it('descends to the given depth, not into node_modules', async () => {
    expect((await callTool(fileList, { depth: 3 }, ctx())).split('\n')).toEqual(['README.md', 'node_modules/', 'src/', 'src/lib/', 'src/lib/util.ts', 'src/main.ts']);
    expect((await callTool(fileList, { path: 'src', depth: 2 }, ctx())).split('\n')).toEqual(['lib/', 'lib/util.ts', 'main.ts']);
  });

  it('stops at the entry cap and says so', async () => {
    mkdirSync(file('many'));
    for (let i = 0; i < MAX_LIST_ENTRIES + 5; i++) writeFileSync(file(`many/f${String(i).padStart(4, '0')}`), '');
    const out = (await callTool(fileList, { path: 'many' }, ctx())).split('\n');
    expect(out).toHaveLength(MAX_LIST_ENTRIES + 1);
    expect(out[out.length - 1]).toMatch(/listing stopped at 1000 entries/);
  });

  it('explains a file given as directory and an empty directory', async () => {
    await expect(callTool(fileList, { path: 'README.md' }, ctx())).rejects.toThrow(/is a file, not a directory/);
    mkdirSync(file('empty'));
    expect(await callTool(fileList, { path: 'empty' }, ctx())).toBe('empty/ is empty.');
  });
});
