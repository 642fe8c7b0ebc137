import { access, mkdir, rename } from 'node:fs/promises';
import path from 'node:path';

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves `file` into `folder` (created if needed), keeping its name, or `name (2).ext` and so on when
 * that name is taken by another file. Idempotent: a file no longer at `file` (moved by an earlier
 * attempt) is not an error. Returns the new path, or undefined when there was nothing to move.
 */
export async function moveIntoFolder(file: string, folder: string): Promise<string | undefined> {
  if (!(await exists(file))) return undefined;
  await mkdir(folder, { recursive: true });
  const ext = path.extname(file);
  const stem = path.basename(file, ext);
  for (let n = 1; ; n++) {
    const target = path.join(folder, n === 1 ? `${stem}${ext}` : `${stem} (${n})${ext}`);
    if (await exists(target)) continue;
    await rename(file, target);
    return target;
  }
}
