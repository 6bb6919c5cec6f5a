import { type FSWatcher, watch } from "node:fs";
import { readdir } from "node:fs/promises";
import { isAbsolute, join, resolve, sep } from "node:path";
import type { GitReport, GitState, RunnerWorktree } from "../../protocol/index.ts";
import { git } from "./git.ts";
import { firstLine, log } from "./log.ts";
import { repoInfo } from "./repos.ts";
import type { LocalState } from "./state.ts";
import { gitState, isWorkingTree, worktreeTarget } from "./worktrees.ts";

/** Where the watcher learns what to watch and tells what changed (the edge, in production). */
export interface WatchSink {
  list(): Promise<RunnerWorktree[]>;
  report(report: GitReport): Promise<void>;
}

export interface WatchOptions {
  dataDir: string;
  state: LocalState;
  sink: WatchSink;
  /** Quiet time after the last file event before git is asked (a save burst is one report). */
  debounceMs?: number;
  /** Longest a steady stream of events may hold a report back. */
  maxWaitMs?: number;
  /** Folders watched per worktree at most (Linux watches each folder; ignored folders never count). */
  maxDirs?: number;
}

/**
 * macOS and Windows watch a whole tree with one native handle. On Linux Node emulates `recursive`
 * by watching every file, which costs megabytes per thousand files: there we watch each folder
 * ourselves instead, and skip what git ignores (node_modules, build output), which is where the
 * files are.
 */
const NATIVE_RECURSIVE = process.platform === "darwin" || process.platform === "win32";
const REPORT_CHUNK = 100;
const RETRY_MS = 5000;

const sameGit = (a: GitState | null, b: GitState | null) =>
  a === b ||
  (!!a &&
    !!b &&
    a.head === b.head &&
    a.ahead === b.ahead &&
    a.behind === b.behind &&
    a.changedFiles === b.changedFiles);

interface Card {
  card: RunnerWorktree;
  target: string;
  /** What the edge has: a report goes only when this differs. */
  exists: boolean;
  git: GitState | null;
  tree: Tree | null;
  admin: FSWatcher | null;
}

interface RepoWatch {
  path: string;
  defaultBranch: string | null;
  branches: string[] | null;
  trees: Tree[];
  common: FSWatcher | null;
}

/**
 * One folder tree watched: natively in one handle, or folder by folder. `onEvent` gets the path of
 * what changed relative to the tree's root (null when the platform did not say).
 */
class Tree {
  private readonly handles = new Map<string, FSWatcher>();
  private ignored = new Set<string>();
  private full = false;
  closed = false;

  readonly root: string;
  private readonly onEvent: (rel: string | null) => void;
  private readonly opts: { maxDirs: number; skip?: (rel: string) => boolean; gitIgnores?: boolean };

  constructor(
    root: string,
    onEvent: (rel: string | null) => void,
    opts: { maxDirs: number; skip?: (rel: string) => boolean; gitIgnores?: boolean },
  ) {
    this.root = root;
    this.onEvent = onEvent;
    this.opts = opts;
  }

  async start(): Promise<void> {
    if (NATIVE_RECURSIVE) {
      this.add(this.root, "", true);
      return;
    }
    if (this.opts.gitIgnores) await this.loadIgnored();
    await this.walk(this.root, "");
  }

  /** git's ignored folders (`node_modules/`), to leave unwatched. */
  private async loadIgnored(): Promise<void> {
    try {
      const out = await git(["ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"], {
        cwd: this.root,
      });
      this.ignored = new Set(
        out
          .split("\0")
          .filter((p) => p.endsWith("/"))
          .map((p) => p.slice(0, -1)),
      );
    } catch {
      this.ignored = new Set();
    }
  }

  private skipped(rel: string): boolean {
    return this.ignored.has(rel) || rel.split(sep).at(-1) === ".git" || !!this.opts.skip?.(rel);
  }

  private async walk(dir: string, rel: string): Promise<void> {
    if (this.closed || this.handles.has(rel) || (rel && this.skipped(rel))) return;
    if (!this.add(dir, rel, false)) return;
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await this.walk(join(dir, e.name), rel ? join(rel, e.name) : e.name);
    }
  }

  private add(dir: string, rel: string, recursive: boolean): boolean {
    if (this.handles.size >= this.opts.maxDirs) {
      if (!this.full) log(`watching ${this.root}: more than ${this.opts.maxDirs} folders, the rest unwatched`);
      this.full = true;
      return false;
    }
    let h: FSWatcher;
    try {
      h = watch(dir, { recursive, persistent: false }, (event, name) => {
        const path = name ? (rel ? join(rel, String(name)) : String(name)) : null;
        if (path && this.skipped(path)) return;
        this.onEvent(path);
        // A folder that appeared needs its own watch (folder-by-folder mode only).
        if (!recursive && event === "rename" && path) void this.walk(join(this.root, path), path);
      });
    } catch (err) {
      // ENOSPC: the machine's inotify watches ran out; ENOENT: gone already.
      if ((err as NodeJS.ErrnoException).code === "ENOSPC" && !this.full) {
        log(`watching ${this.root}: out of file watches (fs.inotify.max_user_watches), the rest unwatched`);
        this.full = true;
      }
      return false;
    }
    h.on("error", () => {
      h.close();
      this.handles.delete(rel);
      // The folder itself went away: that is news too.
      this.onEvent(rel || null);
    });
    this.handles.set(rel, h);
    return true;
  }

  get size(): number {
    return this.handles.size;
  }

  close(): void {
    this.closed = true;
    for (const h of this.handles.values()) h.close();
    this.handles.clear();
  }
}

/**
 * Keeps the edge's picture of this runner's worktrees true without anyone pressing Refresh: file
 * events in a worktree, in its git admin folder (commits, staging, checkouts) or in its repo's refs
 * mark it dirty; after a short quiet spell git is asked once per dirty worktree, and only what
 * changed is reported. Idle, it holds file watches and no timers.
 */
export class GitWatcher {
  private readonly o: Required<WatchOptions>;
  private readonly cards = new Map<string, Card>();
  private readonly repos = new Map<string, RepoWatch>();
  private readonly dirtyCards = new Set<string>();
  private readonly dirtyRepos = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private firstDirtyAt = 0;
  private flushing: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private closed = false;

  constructor(opts: WatchOptions) {
    this.o = { debounceMs: 300, maxWaitMs: 1500, maxDirs: 4000, ...opts };
  }

  /** Folders watched in all (for tests and the status line). */
  get watchedDirs(): number {
    let n = 0;
    for (const c of this.cards.values()) n += c.tree?.size ?? 0;
    return n;
  }

  /** Ask the edge what to watch and start or stop watches to match. One at a time; calls meanwhile coalesce. */
  sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        try {
          await this.syncOnce();
        } catch (err) {
          log(`watch: could not read this runner's worktrees: ${firstLine(err)}`);
        }
      } while (this.syncAgain && !this.closed);
    })().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const listed = await this.o.sink.list();
    if (this.closed) return;
    const keep = new Set(listed.map((c) => c.id));
    for (const [id, c] of this.cards) {
      if (!keep.has(id)) {
        this.stopCard(c);
        this.cards.delete(id);
      }
    }
    for (const card of listed) {
      const known = this.cards.get(card.id);
      if (known) {
        // The edge's word wins over ours: a job may have changed the row since.
        known.card = card;
        known.git = card.git;
        known.exists = card.status === "ready";
      } else {
        const repo = this.o.state.repo(card.repoId);
        if (!repo) continue;
        let target: string;
        try {
          target = await worktreeTarget(this.o.dataDir, card.repoId, card.name);
        } catch {
          continue;
        }
        const c: Card = { card, target, exists: card.status === "ready", git: card.git, tree: null, admin: null };
        this.cards.set(card.id, c);
        await this.startCard(c);
      }
      this.markCard(card.id);
    }
    for (const [repoId, record] of this.o.state.repos()) {
      if (!this.repos.has(repoId)) await this.startRepo(repoId, record.path);
    }
    for (const [repoId, r] of this.repos) {
      if (!this.o.state.repo(repoId)) {
        this.stopRepo(r);
        this.repos.delete(repoId);
      }
    }
  }

  private async startCard(c: Card): Promise<void> {
    if (!(await isWorkingTree(c.target))) return;
    c.tree = new Tree(c.target, () => this.markCard(c.card.id), { maxDirs: this.o.maxDirs, gitIgnores: true });
    await c.tree.start();
    // The worktree's own git folder (HEAD, index): commits, staging, checkouts.
    try {
      const admin = resolve(c.target, (await git(["rev-parse", "--git-dir"], { cwd: c.target })).trim());
      c.admin = watch(admin, { persistent: false }, (_e, name) => {
        if (!String(name ?? "").endsWith(".lock")) this.markCard(c.card.id);
      });
      c.admin.on("error", () => c.admin?.close());
    } catch {}
  }

  private stopCard(c: Card): void {
    c.tree?.close();
    c.admin?.close();
    c.tree = null;
    c.admin = null;
  }

  private async startRepo(repoId: string, path: string): Promise<void> {
    const r: RepoWatch = { path, defaultBranch: null, branches: null, trees: [], common: null };
    this.repos.set(repoId, r);
    let common: string;
    try {
      const out = (await git(["rev-parse", "--git-common-dir"], { cwd: path })).trim();
      common = isAbsolute(out) ? out : resolve(path, out);
    } catch {
      return;
    }
    // Branches (and where a base now points): refs/heads and origin's refs, loose and packed.
    for (const dir of [join(common, "refs", "heads"), join(common, "refs", "remotes", "origin")]) {
      const tree = new Tree(dir, (rel) => this.refChanged(repoId, rel ? rel.split(sep).join("/") : null), {
        maxDirs: 500,
      });
      await tree.start();
      r.trees.push(tree);
    }
    try {
      r.common = watch(common, { persistent: false }, (_e, name) => {
        if (name === "packed-refs") this.refChanged(repoId, null);
      });
      r.common.on("error", () => r.common?.close());
    } catch {}
    this.markRepo(repoId);
  }

  private stopRepo(r: RepoWatch): void {
    for (const t of r.trees) t.close();
    r.common?.close();
  }

  /** A ref moved: the repo's branch list, and the cards on that branch or based on it. */
  private refChanged(repoId: string, branch: string | null): void {
    const name = branch?.replace(/\.lock$/, "") ?? null;
    this.markRepo(repoId);
    for (const c of this.cards.values()) {
      if (c.card.repoId !== repoId) continue;
      if (name === null || c.card.branch === name || c.card.baseBranch === name) this.markCard(c.card.id);
    }
  }

  private markCard(id: string): void {
    this.dirtyCards.add(id);
    this.schedule();
  }

  private markRepo(repoId: string): void {
    this.dirtyRepos.add(repoId);
    this.schedule();
  }

  private schedule(delay = this.o.debounceMs): void {
    if (this.closed) return;
    const now = Date.now();
    if (!this.timer) this.firstDirtyAt = now;
    clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(delay, this.firstDirtyAt + this.o.maxWaitMs - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
  }

  /** Ask git about everything dirty and report what differs from what the edge has. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.dirtyCards.size ? this.flush() : undefined));
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const cardIds = [...this.dirtyCards];
    const repoIds = [...this.dirtyRepos];
    this.dirtyCards.clear();
    this.dirtyRepos.clear();
    const worktrees: NonNullable<GitReport["worktrees"]> = [];
    const seen = new Map<string, { exists: boolean; git: GitState | null }>();
    for (const id of cardIds) {
      const c = this.cards.get(id);
      if (!c) continue;
      const exists = await isWorkingTree(c.target);
      let state: GitState | null = null;
      if (exists) {
        try {
          state = await gitState(c.target, c.card.baseBranch);
        } catch {
          continue;
        }
      }
      // The edge may have dropped the card while git answered: it is neither watched again nor reported.
      if (this.cards.get(id) !== c) continue;
      if (exists && !c.tree) await this.startCard(c);
      if (!exists && c.tree) this.stopCard(c);
      if (exists === c.exists && (!exists || sameGit(c.git, state))) continue;
      worktrees.push({ worktreeId: id, exists, git: state });
      seen.set(id, { exists, git: state });
    }
    const repos: NonNullable<GitReport["repos"]> = [];
    const repoSeen = new Map<string, { defaultBranch: string; branches: string[] }>();
    for (const repoId of repoIds) {
      const r = this.repos.get(repoId);
      if (!r) continue;
      try {
        const info = await repoInfo(r.path);
        if (
          r.branches &&
          info.defaultBranch === r.defaultBranch &&
          info.branches.join("\n") === r.branches.join("\n")
        ) {
          continue;
        }
        repos.push({ repoId, ...info });
        repoSeen.set(repoId, info);
      } catch {}
    }
    if (this.closed) return;
    try {
      for (let i = 0; i < Math.max(worktrees.length, repos.length); i += REPORT_CHUNK) {
        const wts = worktrees.slice(i, i + REPORT_CHUNK);
        const rs = repos.slice(i, i + REPORT_CHUNK);
        await this.o.sink.report({ worktrees: wts, repos: rs.slice(0, 50) });
        for (const w of wts) {
          const c = this.cards.get(w.worktreeId);
          if (c) Object.assign(c, seen.get(w.worktreeId));
        }
        for (const r of rs) {
          const watch = this.repos.get(r.repoId);
          if (watch) Object.assign(watch, repoSeen.get(r.repoId));
        }
      }
    } catch (err) {
      log(`watch: could not report git state: ${firstLine(err)}; trying again shortly`);
      for (const w of worktrees) this.dirtyCards.add(w.worktreeId);
      for (const r of repos) this.dirtyRepos.add(r.repoId);
      this.schedule(RETRY_MS);
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const c of this.cards.values()) this.stopCard(c);
    for (const r of this.repos.values()) this.stopRepo(r);
    this.cards.clear();
    this.repos.clear();
  }
}
