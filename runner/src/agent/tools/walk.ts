import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";

/** Folders nobody means when they ask what files there are. */
export const SKIPPED_DIRS = new Set([".git", "node_modules"]);

/**
 * Every file under `dir` (depth first, names sorted), as `/`-separated paths relative to `dir`.
 * Symlinks are reported but never followed, so a walk cannot leave the worktree or loop. Stops when
 * `visit` returns false.
 */
export async function walkFiles(
  dir: string,
  visit: (rel: string, entry: Dirent) => boolean | Promise<boolean>,
  signal?: AbortSignal,
): Promise<void> {
  const stack: string[] = [""];
  while (stack.length) {
    if (signal?.aborted) return;
    const rel = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true });
    } catch {
      continue; // unreadable or vanished meanwhile: skip it rather than fail the whole listing
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) subdirs.push(path);
      } else if (!(await visit(path, e))) return;
    }
    // Pushed in reverse so the first folder is walked first.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}
