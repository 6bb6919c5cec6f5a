import { randomBytes } from "node:crypto";
import { readdir, realpath, rename, rm, rmdir } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { RepoSource } from "../../protocol/index.ts";
import { exists, isInside, realDir } from "./files.ts";
import { GitError, git, gitOk, lines } from "./git.ts";
import { safeSegment } from "./names.ts";
import type { LocalState, RepoRecord } from "./state.ts";

export interface RepoInfo {
  defaultBranch: string;
  branches: string[];
}

const MAX_BRANCHES = 500;

/** `origin/HEAD` when the repo has one (clones do), else the branch checked out in it. */
export async function defaultBranch(repoPath: string): Promise<string> {
  try {
    const remoteHead = (
      await git(["symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"], { cwd: repoPath })
    ).trim();
    if (remoteHead.startsWith("origin/")) return remoteHead.slice("origin/".length);
  } catch (err) {
    if (!(err instanceof GitError)) throw err;
  }
  try {
    return (await git(["symbolic-ref", "--short", "-q", "HEAD"], { cwd: repoPath })).trim();
  } catch (err) {
    if (!(err instanceof GitError)) throw err;
    return "HEAD";
  }
}

/** Local branches and origin's branches, by short name, without duplicates. */
export async function listBranches(repoPath: string): Promise<string[]> {
  const out = await git(["for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes/origin"], {
    cwd: repoPath,
  });
  const names = new Set<string>();
  for (const ref of lines(out)) {
    if (ref.startsWith("refs/heads/")) names.add(ref.slice("refs/heads/".length));
    else if (ref.startsWith("refs/remotes/origin/") && ref !== "refs/remotes/origin/HEAD") {
      names.add(ref.slice("refs/remotes/origin/".length));
    }
  }
  return [...names].sort().slice(0, MAX_BRANCHES);
}

export async function repoInfo(repoPath: string): Promise<RepoInfo> {
  const [def, branches] = await Promise.all([defaultBranch(repoPath), listBranches(repoPath)]);
  return { defaultBranch: def, branches };
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}

/** Prefix of the temp folders a clone is made in before it is renamed into place. */
const partialPrefix = (repoId: string) => `.${repoId}.partial-`;

/**
 * Add a repo: a local path is used in place (it must already be a git work tree); a URL is cloned
 * into `<dataDir>/repos/<repoId>`, through a temp sibling renamed at the end so a killed clone
 * never leaves a half repo where a whole one is expected. Running it again is harmless.
 */
export async function addRepo(
  p: { repoId: string; name: string; source: RepoSource },
  env: { dataDir: string; state: LocalState; signal?: AbortSignal },
): Promise<{ path: string } & RepoInfo> {
  const repoId = safeSegment(p.repoId, "repo id");
  let path: string;
  if (p.source.kind === "path") {
    const expanded = expandHome(p.source.path);
    // The edge refuses these too; resolving one against wherever the runner was started is never meant.
    if (!isAbsolute(expanded)) throw new Error(`not an absolute path: ${p.source.path}`);
    const given = resolve(expanded);
    let real: string;
    try {
      real = await realpath(given);
    } catch {
      throw new Error(`path does not exist on this runner: ${given}`);
    }
    try {
      path = (await git(["rev-parse", "--show-toplevel"], { cwd: real, signal: env.signal })).trim();
    } catch (err) {
      if (err instanceof GitError) throw new Error(`not a git work tree: ${given}\n${err.message}`);
      throw err;
    }
  } else {
    const reposDir = await realDir(join(env.dataDir, "repos"));
    path = join(reposDir, repoId);
    for (const entry of await readdir(reposDir)) {
      if (entry.startsWith(partialPrefix(repoId))) await rm(join(reposDir, entry), { recursive: true, force: true });
    }
    if (await exists(path)) {
      const origin = await git(["config", "--get", "remote.origin.url"], { cwd: path }).catch(() => "");
      if (origin.trim() !== p.source.url) {
        throw new Error(`${path} already exists and is not a clone of ${p.source.url}: move it away and retry`);
      }
    } else {
      const tmp = join(reposDir, `${partialPrefix(repoId)}${randomBytes(4).toString("hex")}`);
      try {
        await git(["clone", "--no-progress", "--", p.source.url, tmp], { signal: env.signal });
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const record: RepoRecord = {
    path,
    name: p.name,
    source: p.source,
    cloned: p.source.kind === "url",
    addedAt: env.state.repo(repoId)?.addedAt ?? Date.now(),
  };
  await env.state.setRepo(repoId, record);
  return { path, ...(await repoInfo(path)) };
}

/**
 * Forget a repo the user removed. A clone the runner made in its data folder is deleted; a folder
 * it used in place is the user's and is left exactly as it is. Unknown is success.
 */
export async function removeRepo(
  p: { repoId: string },
  env: { dataDir: string; state: LocalState },
): Promise<Record<string, never>> {
  const repoId = safeSegment(p.repoId, "repo id");
  const record = env.state.repo(repoId);
  if (record?.cloned) {
    const reposDir = await realDir(join(env.dataDir, "repos"));
    const real = await realpath(record.path).catch(() => null);
    if (real && isInside(reposDir, real)) await rm(real, { recursive: true, force: true });
  }
  // Its worktrees folder, once its cards (and so its worktrees) are gone: only if empty.
  await rmdir(join(env.dataDir, "worktrees", repoId)).catch(() => {});
  await env.state.deleteRepo(repoId);
  return {};
}

export function knownRepo(state: LocalState, repoId: string): RepoRecord {
  const repo = state.repo(repoId);
  if (!repo) throw new Error(`repo ${repoId} is not known on this runner (its state file was lost?): add it again`);
  return repo;
}

export async function fetchRepo(
  p: { repoId: string },
  env: { state: LocalState; signal?: AbortSignal },
): Promise<RepoInfo> {
  const repo = knownRepo(env.state, p.repoId);
  if (!(await exists(repo.path))) throw new Error(`repo folder is gone: ${repo.path}`);
  await git(["fetch", "--prune", "--no-progress"], { cwd: repo.path, signal: env.signal });
  return repoInfo(repo.path);
}

/** `refs/heads/<name>` if it exists, else `refs/remotes/origin/<name>`, else null. */
export async function resolveBranch(repoPath: string, name: string): Promise<string | null> {
  for (const ref of [`refs/heads/${name}`, `refs/remotes/origin/${name}`]) {
    if (await gitOk(["show-ref", "--verify", "-q", ref], { cwd: repoPath })) return ref;
  }
  return null;
}
