import { lstat, realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import type { GitState } from "../../protocol/index.ts";
import { JobFailure } from "./failure.ts";
import { exists, isInside, realDir } from "./files.ts";
import { GitError, git, gitOk, lines } from "./git.ts";
import { branchName, safeSegment } from "./names.ts";
import { defaultBranch, knownRepo, listBranches, resolveBranch } from "./repos.ts";
import type { LocalState } from "./state.ts";

export interface WorktreeEnv {
  dataDir: string;
  state: LocalState;
  signal?: AbortSignal;
}

interface ListedWorktree {
  path: string;
  head: string | null;
  branch: string | null;
  /** `git worktree add` locks a worktree "initializing" until it is done: still locked means it was killed. */
  locked: string | null;
}

/** `git worktree list --porcelain`: blank-line separated records of `key value` lines. */
export async function listWorktrees(repoPath: string): Promise<ListedWorktree[]> {
  const out = await git(["worktree", "list", "--porcelain"], { cwd: repoPath });
  return out
    .split("\n\n")
    .map((block) => {
      const wt: ListedWorktree = { path: "", head: null, branch: null, locked: null };
      for (const line of lines(block)) {
        const sp = line.indexOf(" ");
        const key = sp < 0 ? line : line.slice(0, sp);
        const value = sp < 0 ? "" : line.slice(sp + 1);
        if (key === "worktree") wt.path = value;
        else if (key === "HEAD") wt.head = value;
        else if (key === "branch") wt.branch = value;
        else if (key === "locked") wt.locked = value;
      }
      return wt;
    })
    .filter((wt) => wt.path);
}

/**
 * `<dataDir>/worktrees/<repoId>/<name>`, with the name checked again and the real path (symlinks
 * resolved) proven to stay inside the data dir. A symlink where the worktree should be is refused.
 */
export async function worktreeTarget(dataDir: string, repoId: string, name: string): Promise<string> {
  safeSegment(repoId, "repo id");
  safeSegment(name, "worktree name");
  const root = await realDir(dataDir);
  const parent = await realDir(join(dataDir, "worktrees", repoId));
  const target = join(parent, name);
  if (!isInside(root, target)) throw new Error(`worktree path ${target} is outside the data folder ${root}`);
  try {
    if ((await lstat(target)).isSymbolicLink()) throw new Error(`${target} is a symlink: refusing to use it`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return target;
}

async function findWorktree(repoPath: string, target: string): Promise<ListedWorktree | undefined> {
  for (const wt of await listWorktrees(repoPath)) {
    const real = await realpath(wt.path).catch(() => wt.path);
    if (real === target || wt.path === target) return wt;
  }
  return undefined;
}

/** A worktree folder git can work in, as its own top level (not a stray folder inside another repo). */
export async function isWorkingTree(path: string): Promise<boolean> {
  if (!(await exists(path))) return false;
  try {
    const top = (await git(["rev-parse", "--show-toplevel"], { cwd: path })).trim();
    return (await realpath(top)) === path;
  } catch {
    return false;
  }
}

/** Remove whatever a killed or failed attempt left at `target`, registered or not. Never throws on git. */
async function clearHalfMade(repoPath: string, target: string): Promise<void> {
  // Twice --force removes even a worktree still locked "initializing".
  await gitOk(["worktree", "remove", "--force", "--force", target], { cwd: repoPath });
  await rm(target, { recursive: true, force: true });
  await gitOk(["worktree", "prune"], { cwd: repoPath });
}

async function revParse(cwd: string, rev: string): Promise<string | null> {
  try {
    return (await git(["rev-parse", "-q", "--verify", `${rev}^{commit}`], { cwd })).trim();
  } catch (err) {
    if (err instanceof GitError) return null;
    throw err;
  }
}

/**
 * Which card made a branch: set in the branch's own git config just before `git worktree add -b`
 * creates it, so a retry of a killed attempt knows the branch is its own, and a delete can prove
 * Trellis made it. `git branch -D` drops it with the branch.
 */
const MARKER = "trellis-worktree";
const markerKey = (branch: string) => `branch.${branch}.${MARKER}`;

async function branchMarker(cwd: string, branch: string): Promise<string | null> {
  try {
    return (await git(["config", "--get", markerKey(branch)], { cwd })).trim() || null;
  } catch (err) {
    if (err instanceof GitError) return null;
    throw err;
  }
}

/**
 * head, commits ahead/behind base, changed files (untracked included). Read-only: status runs
 * without optional locks, so it never rewrites the index (which the watcher would see as a change).
 */
export async function gitState(path: string, baseBranch: string | null): Promise<GitState> {
  const head = await revParse(path, "HEAD");
  const changedFiles = lines(await git(["--no-optional-locks", "status", "--porcelain"], { cwd: path })).length;
  let ahead = 0;
  let behind = 0;
  const baseRef = baseBranch ? await resolveBranch(path, baseBranch) : null;
  if (head && baseRef) {
    const out = await git(["rev-list", "--left-right", "--count", `${baseRef}...HEAD`], { cwd: path });
    const [b, a] = out.trim().split(/\s+/).map(Number);
    behind = b ?? 0;
    ahead = a ?? 0;
  }
  return { head, ahead, behind, changedFiles, refreshedAt: Date.now() };
}

export interface CreateWorktree {
  /** The card: recorded on a branch this creates, so only this card's delete may remove it. */
  worktreeId?: string;
  repoId: string;
  name: string;
  mode: "new" | "existing";
  branch: string;
  baseBranch: string | null;
}

/**
 * `git worktree add` under the data dir. Safe to run again: an existing worktree on the same branch
 * is success, and what a killed attempt left behind is cleared and the worktree made again.
 */
export async function createWorktree(
  p: CreateWorktree,
  env: WorktreeEnv,
): Promise<{ path: string; git: GitState; createdBranch: boolean; branches: string[] }> {
  const target = await worktreeTarget(env.dataDir, p.repoId, p.name);
  const repo = knownRepo(env.state, p.repoId);
  const branch = branchName(p.branch);
  const base = p.baseBranch === null ? null : branchName(p.baseBranch, "base branch");
  const cwd = repo.path;
  const owner = p.worktreeId ?? p.name;
  const done = async (createdBranch: boolean) => ({
    path: target,
    git: await gitState(target, base),
    createdBranch,
    branches: await listBranches(cwd),
  });

  const existing = await findWorktree(cwd, target);
  if (existing && existing.locked !== "initializing" && (await isWorkingTree(target))) {
    if (existing.branch === `refs/heads/${branch}`) {
      return done(p.mode === "new" && (await branchMarker(cwd, branch)) === owner);
    }
    const on = existing.branch?.replace(/^refs\/heads\//, "") ?? "a detached HEAD";
    throw new Error(`a worktree named "${p.name}" already exists on ${on}, not on ${branch}`);
  }
  if (existing || (await exists(target))) await clearHalfMade(cwd, target);

  let args: string[];
  let createsBranch = false;
  let ours = false;
  if (p.mode === "existing") {
    args = ["worktree", "add", target, branch];
  } else {
    const baseName = base ?? (await defaultBranch(cwd));
    // A base that exists only on origin (a fresh clone has just its default branch locally).
    const baseRef = (await resolveBranch(cwd, baseName)) ?? baseName;
    if (await resolveBranch(cwd, branch).then((ref) => ref?.startsWith("refs/heads/"))) {
      // Only this card's own branch, left by a killed or failed attempt, is reused: anyone else's
      // branch stays theirs (and Trellis will never delete it).
      if ((await branchMarker(cwd, branch)) !== owner) {
        throw new JobFailure(
          `branch "${branch}" already exists: pick another name, or create the worktree from it`,
          "branch_exists",
          { worktreeExists: false },
        );
      }
      args = ["worktree", "add", target, branch];
      ours = true;
    } else {
      // Marked before it exists, so even a kill right after `worktree add` made it leaves it known.
      await git(["config", markerKey(branch), owner], { cwd });
      args = ["worktree", "add", "-b", branch, target, baseRef];
      createsBranch = true;
    }
  }
  try {
    await git(args, { cwd, signal: env.signal });
  } catch (err) {
    if (env.signal?.aborted) {
      // Cancelled: leave nothing behind, not even the new branch.
      await clearHalfMade(cwd, target);
      if (createsBranch) await gitOk(["branch", "-D", branch], { cwd });
    }
    // A marker for a branch that never came to be would claim a stranger's branch of that name later.
    if (createsBranch && !(await gitOk(["show-ref", "--verify", "-q", `refs/heads/${branch}`], { cwd }))) {
      await gitOk(["config", "--unset", markerKey(branch)], { cwd });
    }
    throw err;
  }
  return done(createsBranch || ours);
}

export interface DeleteWorktree {
  worktreeId?: string;
  repoId: string;
  name: string;
  branch: string;
  force: boolean;
  deleteBranch: boolean;
  /** The second "yes": delete the branch even with commits not merged into its base. */
  deleteUnmerged?: boolean;
  baseBranch?: string | null;
}

const SHOWN_FILES = 5;

/** Commits on `branch` that its base does not have (base missing: that no other branch or remote has). */
async function unmergedCommits(cwd: string, branch: string, base: string | null): Promise<number> {
  const baseRef = await resolveBranch(cwd, base ?? (await defaultBranch(cwd)));
  const args = baseRef
    ? ["rev-list", "--count", `refs/heads/${branch}`, "--not", baseRef]
    : [
        "rev-list",
        "--count",
        `refs/heads/${branch}`,
        "--not",
        `--exclude=refs/heads/${branch}`,
        "--branches",
        "--remotes",
      ];
  return Number((await git(args, { cwd })).trim()) || 0;
}

/**
 * Remove a worktree, refusing while it has uncommitted changes unless forced. Already gone is
 * success. With `deleteBranch`, the branch goes too, but only one this card made (its marker), and
 * one with commits its base lacks only with `deleteUnmerged`; both are checked before anything is
 * touched. Every failure says whether the worktree is still on disk.
 */
export async function deleteWorktree(p: DeleteWorktree, env: WorktreeEnv): Promise<{ branches: string[] }> {
  const target = await worktreeTarget(env.dataDir, p.repoId, p.name);
  const repo = knownRepo(env.state, p.repoId);
  const branch = branchName(p.branch);
  const base = p.baseBranch ? branchName(p.baseBranch, "base branch") : null;
  const cwd = repo.path;
  try {
    const existing = await findWorktree(cwd, target);
    const healthy = existing && existing.locked !== "initializing" && (await isWorkingTree(target));
    const hasBranch = p.deleteBranch && (await gitOk(["show-ref", "--verify", "-q", `refs/heads/${branch}`], { cwd }));
    if (hasBranch) {
      if ((await branchMarker(cwd, branch)) !== (p.worktreeId ?? p.name)) {
        throw new JobFailure(
          `branch "${branch}" was not made by this card, so Trellis does not delete it. Delete the worktree and keep the branch.`,
          "branch_not_ours",
        );
      }
      const unmerged = p.deleteUnmerged ? 0 : await unmergedCommits(cwd, branch, base);
      if (unmerged > 0) {
        throw new JobFailure(
          `branch "${branch}" has ${unmerged} commit${unmerged === 1 ? "" : "s"} not merged into ${base ?? "the default branch"}. Nothing was deleted: confirm to delete the unmerged branch, or keep the branch.`,
          "branch_unmerged",
          { unmergedCommits: unmerged },
        );
      }
    }
    if (healthy) {
      if (!p.force) {
        const changes = lines(await git(["status", "--porcelain"], { cwd: target }));
        if (changes.length > 0) {
          const files = changes.slice(0, SHOWN_FILES).map((l) => l.slice(3));
          const more = changes.length > SHOWN_FILES ? ` and ${changes.length - SHOWN_FILES} more` : "";
          throw new JobFailure(
            `uncommitted changes: ${files.join(", ")}${more}. Commit or stash them, or delete with force to discard them.`,
            "uncommitted_changes",
          );
        }
      }
      await git(["worktree", "remove", ...(p.force ? ["--force"] : []), target], { cwd, signal: env.signal });
    } else if (existing || (await exists(target))) {
      await clearHalfMade(cwd, target);
    }
    await gitOk(["worktree", "prune"], { cwd });
    if (hasBranch) await git(["branch", "-D", branch], { cwd, signal: env.signal });
    return { branches: await listBranches(cwd) };
  } catch (err) {
    throw JobFailure.from(err, { worktreeExists: await isWorkingTree(target).catch(() => false) });
  }
}

export async function refreshWorktree(
  p: { repoId: string; name: string; baseBranch: string | null },
  env: WorktreeEnv,
): Promise<{ git: GitState }> {
  const target = await worktreeTarget(env.dataDir, p.repoId, p.name);
  knownRepo(env.state, p.repoId);
  if (!(await isWorkingTree(target))) {
    throw new JobFailure(`worktree folder is missing or broken: ${target}`, "worktree_missing", {
      worktreeExists: false,
    });
  }
  const base = p.baseBranch === null ? null : branchName(p.baseBranch, "base branch");
  return { git: await gitState(target, base) };
}
