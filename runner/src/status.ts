import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { exists } from "./files.ts";
import { LocalState } from "./state.ts";

/** What this machine holds, from the local state file and the worktrees folder (no edge needed). */
export async function localSummary(dataDir: string): Promise<string[]> {
  const state = await LocalState.open(dataDir);
  const repos = state.repos();
  const out = [`repos    ${repos.length}`];
  for (const [id, repo] of repos) {
    const missing = (await exists(repo.path)) ? "" : "  (folder missing)";
    out.push(`  ${repo.name} (${id}) ${repo.cloned ? "cloned" : "in place"} at ${repo.path}${missing}`);
    const names = await readdir(join(dataDir, "worktrees", id)).catch(() => [] as string[]);
    for (const name of names.sort()) out.push(`    worktree ${name}  ${join(dataDir, "worktrees", id, name)}`);
  }
  return out;
}
