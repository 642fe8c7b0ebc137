import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The project root: the nearest folder above this file with a package.json. Found by walking up,
 * because this file runs both as lib/paths.ts (tsx, jest) and as dist/lib/paths.js (production).
 */
function findProjectRoot(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the Spacebot project root (no package.json above lib/paths)');
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findProjectRoot();
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'migrations');
export const SHIPPED_PROMPTS_DIR = path.join(PROJECT_ROOT, 'prompts');
