import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { defineTool, type ToolContext } from '../tool.js';
import { withWorkspace, type ConfinedWorkspace } from './confined-files.js';
import { capOutput, formatBytes, MAX_TOOL_OUTPUT_BYTES } from './output-cap.js';

/**
 * The workers' file tools. Every path is opened beneath the workspace by ConfinedWorkspace (no
 * symlink, hard link or swapped-in path leads out), so nothing outside the agent's workspace is read,
 * written or listed; a refusal reaches the model as a tool error that says why.
 */

/** file_write refuses larger content: a worker writing megabytes in one call has usually lost its way. */
export const MAX_WRITE_BYTES = 1024 * 1024;
/** file_read refuses larger files; the shell (head, grep, sed -n) reads pieces of them. */
export const MAX_READ_FILE_BYTES = 10 * 1024 * 1024;
export const DEFAULT_READ_LINES = 2000;
export const MAX_READ_LINES = 20_000;
/** file_list stops after this many entries and says so. */
export const MAX_LIST_ENTRIES = 1000;
export const MAX_LIST_DEPTH = 8;
/** Listed but not descended into by a recursive listing: they are large and rarely what the model wants. */
const NOT_EXPANDED = new Set(['.git', 'node_modules']);

export interface FileToolOptions {
  /** Cap of one result in bytes (`[tools] max_output_bytes`). */
  maxOutputBytes?: number;
}

/** The workspace of the calling process; the tool activity must pass it in the context. */
export function workspaceOf(context: ToolContext): string {
  if (!context.workspace) throw new Error('no workspace is set for this process; the tool activity must pass the agent workspace in the tool context');
  return context.workspace;
}

const pathField = z.string().min(1).max(4096);

export const fileReadInput = z
  .object({
    path: pathField.describe('File to read, relative to the workspace.'),
    offset: z.number().int().min(1).optional().describe('First line to return, counting from 1 (default 1).'),
    limit: z.number().int().min(1).max(MAX_READ_LINES).optional().describe(`How many lines to return (default ${DEFAULT_READ_LINES}).`),
  })
  .strict();

export const fileWriteInput = z
  .object({
    path: pathField.describe('File to write, relative to the workspace; missing parent directories are created.'),
    content: z.string().describe('The complete new content of the file (at most 1 MB); an existing file is replaced.'),
  })
  .strict();

export const fileEditInput = z
  .object({
    path: pathField.describe('File to edit, relative to the workspace.'),
    old_text: z.string().min(1).describe('Exact text to replace, including whitespace; it must occur exactly once in the file.'),
    new_text: z.string().describe('The text to put in its place (may be empty to delete old_text).'),
  })
  .strict();

export const fileListInput = z
  .object({
    path: pathField.optional().describe('Directory to list, relative to the workspace (default ".", the workspace itself).'),
    depth: z
      .number()
      .int()
      .min(1)
      .max(MAX_LIST_DEPTH)
      .optional()
      .describe(`How many levels to descend: 1 lists only the directory itself (default 1, at most ${MAX_LIST_DEPTH}).`),
  })
  .strict();

export function makeFileTools(options: FileToolOptions = {}) {
  const cap = options.maxOutputBytes ?? MAX_TOOL_OUTPUT_BYTES;

  const fileRead = defineTool({
    name: 'file_read',
    description:
      'Read a text file from your workspace. Returns a header with the line range and the total number of lines, then the lines. ' +
      'Use offset and limit to page through long files.',
    input: fileReadInput,
    run: (input, context) =>
      withWorkspace(workspaceOf(context), async (ws) => {
        const target = await ws.locate(input.path);
        const { handle, stats } = await ws.openFile(target, input.path, 'read');
        const tooLarge = (size: number) =>
          new Error(`"${input.path}" is ${formatBytes(size)}, more than file_read takes (${formatBytes(MAX_READ_FILE_BYTES)}); use the shell (head, grep, sed -n) to read parts of it`);
        if (stats.size > MAX_READ_FILE_BYTES) throw tooLarge(stats.size);
        // Bounded by the cap, not by the size seen a moment ago: the file may grow meanwhile.
        const data = await readBounded(handle, MAX_READ_FILE_BYTES + 1);
        if (data.length > MAX_READ_FILE_BYTES) throw tooLarge(data.length);
        return readResult(data, target.relative, input.offset, input.limit, cap);
      }),
  });

  const fileWrite = defineTool({
    name: 'file_write',
    description: 'Create or replace a file in your workspace with the given content; parent directories are created as needed.',
    input: fileWriteInput,
    async run(input, context) {
      const size = Buffer.byteLength(input.content, 'utf8');
      if (size > MAX_WRITE_BYTES) {
        throw new Error(`content is ${formatBytes(size)}; file_write takes at most ${formatBytes(MAX_WRITE_BYTES)} per call: write a smaller file, or generate large files with the shell`);
      }
      return withWorkspace(workspaceOf(context), async (ws) => {
        const target = await ws.locate(input.path, { createDirs: true });
        const { handle, created } = await ws.openFile(target, input.path, 'write');
        // Truncated only now, after the descriptor was checked to be a single-linked regular file inside.
        await replaceContent(handle, Buffer.from(input.content, 'utf8'));
        const lines = splitLines(input.content).length;
        return `${created ? 'Created' : 'Replaced'} ${target.relative} (${formatBytes(size)}, ${lines} line${lines === 1 ? '' : 's'}).`;
      });
    },
  });

  const fileEdit = defineTool({
    name: 'file_edit',
    description:
      'Replace one exact piece of text in a file of your workspace. old_text must occur exactly once: copy it from file_read, ' +
      'with enough surrounding lines to make it unique.',
    input: fileEditInput,
    run: (input, context) =>
      withWorkspace(workspaceOf(context), async (ws) => {
        const target = await ws.locate(input.path);
        const { handle } = await ws.openFile(target, input.path, 'edit');
        const raw = await readBounded(handle, MAX_WRITE_BYTES * 10 + 1);
        if (raw.length > MAX_WRITE_BYTES * 10) throw new Error(`"${input.path}" is larger than file_edit takes (${formatBytes(MAX_WRITE_BYTES * 10)}); edit it with the shell`);
        return editResult(handle, raw.toString('utf8'), target.relative, input.old_text, input.new_text);
      }),
  });

  const fileList = defineTool({
    name: 'file_list',
    description:
      'List a directory of your workspace: one entry per line, relative to it, directories end with "/", symlinks with "@". ' +
      `depth > 1 lists subdirectories too (.git and node_modules are shown but not expanded); at most ${MAX_LIST_ENTRIES} entries.`,
    input: fileListInput,
    run: (input, context) =>
      withWorkspace(workspaceOf(context), async (ws) => {
        const given = input.path ?? '.';
        const target = await ws.locate(given);
        const dir = await ws.openDir(target, given);
        const entries: string[] = [];
        const complete = await walk(ws, dir, '', input.depth ?? 1, entries);
        const where = target.relative === '.' ? 'the workspace' : `${target.relative}/`;
        if (!entries.length) return `${where} is empty.`;
        const note = complete ? '' : `\n[listing stopped at ${MAX_LIST_ENTRIES} entries; list a subdirectory or use a smaller depth]`;
        return capOutput(`${entries.join('\n')}${note}`, cap);
      }),
  });

  return { fileRead, fileWrite, fileEdit, fileList };
}

/** The header and the requested lines of a file's content. */
function readResult(data: Buffer, relative: string, offsetArg: number | undefined, limit: number | undefined, cap: number): string {
  if (data.includes(0)) return `"${relative}" is a binary file (${formatBytes(data.length)}); not shown.`;
  const lines = splitLines(data.toString('utf8'));
  const offset = offsetArg ?? 1;
  if (lines.length === 0) return `[${relative}: empty file, 0 lines]`;
  if (offset > lines.length) throw new Error(`offset ${offset} is past the end of "${relative}", which has ${lines.length} lines`);
  const slice = lines.slice(offset - 1, offset - 1 + (limit ?? DEFAULT_READ_LINES));
  const last = offset - 1 + slice.length;
  const more = last < lines.length ? `; use offset=${last + 1} to read on` : '';
  return capOutput(`[${relative}: lines ${offset}-${last} of ${lines.length}${more}]\n${slice.join('\n')}`, cap);
}

/** Replaces old_text (exactly one occurrence) through the already-checked descriptor. */
async function editResult(handle: FileHandle, text: string, relative: string, oldText: string, newText: string): Promise<string> {
  const matches = countOccurrences(text, oldText);
  if (matches === 0) {
    throw new Error(`old_text was not found in ${relative} (0 matches); read the file again and copy the text exactly, including whitespace and line breaks`);
  }
  if (matches > 1) {
    throw new Error(`old_text occurs ${matches} times in ${relative} (${matches} matches); include more surrounding text so that it matches exactly once`);
  }
  const at = text.indexOf(oldText);
  // Slicing rather than String.replace: `$&` and friends in new_text must stay literal.
  const updated = text.slice(0, at) + newText + text.slice(at + oldText.length);
  if (Buffer.byteLength(updated, 'utf8') > MAX_WRITE_BYTES * 10) throw new Error(`the edited file would exceed ${formatBytes(MAX_WRITE_BYTES * 10)}; edit it with the shell`);
  await replaceContent(handle, Buffer.from(updated, 'utf8'));
  const firstLine = countOccurrences(text.slice(0, at), '\n') + 1;
  const lastLine = firstLine + countOccurrences(newText.replace(/\n$/, ''), '\n');
  return `Edited ${relative}: replaced 1 occurrence (now line${lastLine > firstLine ? `s ${firstLine}-${lastLine}` : ` ${firstLine}`}).`;
}

/** Up to `max` bytes from the start of an open file. */
async function readBounded(handle: FileHandle, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < max) {
    const buffer = Buffer.alloc(Math.min(64 * 1024, max - total));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, total);
    if (bytesRead === 0) break;
    chunks.push(buffer.subarray(0, bytesRead));
    total += bytesRead;
  }
  return Buffer.concat(chunks);
}

/** The whole content of an open file replaced by `data`. */
async function replaceContent(handle: FileHandle, data: Buffer): Promise<void> {
  await handle.truncate(0);
  let written = 0;
  while (written < data.length) written += (await handle.write(data, written, data.length - written, written)).bytesWritten;
}

/** Depth-first, sorted, never following symlinks (a linked directory could lead outside). False when cut. */
async function walk(ws: ConfinedWorkspace, dir: FileHandle, prefix: string, depth: number, out: string[]): Promise<boolean> {
  for (const d of await ws.entries(dir)) {
    if (out.length >= MAX_LIST_ENTRIES) return false;
    const rel = prefix + d.name;
    if (d.isSymbolicLink()) {
      out.push(`${rel}@`);
    } else if (d.isDirectory()) {
      out.push(`${rel}/`);
      if (depth > 1 && !NOT_EXPANDED.has(d.name)) {
        if (!(await walk(ws, await ws.openDirAt(dir, d.name, rel), `${rel}/`, depth - 1, out))) return false;
      }
    } else {
      out.push(rel);
    }
  }
  return true;
}

/** Lines without their terminators; a final newline does not start an extra empty line. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function countOccurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
}

export type FileTools = ReturnType<typeof makeFileTools>;
