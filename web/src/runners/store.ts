import { useEffect } from "react";
import type { EntityEvent, Job, Repo, Runner } from "../../../protocol/index.ts";
import { ApiError, api, expectOk, messageOf, unwrap } from "../lib/api.ts";
import { Store } from "../lib/store.ts";
import { notify } from "../ui/notices.tsx";

const JOB_POLL_MS = 1000;
const JOB_POLL_LIMIT_MS = 120_000;
const ADDING_POLL_MS = 1500;
const ENDED = new Set<Job["status"]>(["succeeded", "failed", "cancelled"]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keep the owner's list of shared boards: room events carry a runner without it. */
function mergeRunner(prev: Runner | undefined, next: Runner): Runner {
  return prev && next.boardIds.length === 0 ? { ...next, boardIds: prev.boardIds } : next;
}

function upsert<T extends { id: string }>(
  list: T[] | null,
  row: T,
  merge: (p: T | undefined, n: T) => T = (_, n) => n,
) {
  if (!list) return list;
  const i = list.findIndex((x) => x.id === row.id);
  if (i < 0) return [row, ...list];
  const next = list.slice();
  next[i] = merge(list[i], row);
  return next;
}

/**
 * Runners and their repos, outside React so the runners panel, the runners page and the
 * create-worktree dialog share one copy and the canvas never re-renders for a runner's heartbeat.
 * `board` is what a board's members may target (kept live by that board's room); `all` is every
 * runner the user can see (theirs and ones shared with their boards), re-read while on screen.
 */
export class RunnerStore {
  readonly board = new Store<Runner[] | null>(null);
  readonly all = new Store<Runner[] | null>(null);
  readonly repos = new Store<ReadonlyMap<string, Repo[]>>(new Map());
  /** Repos with a fetch job of ours in flight. */
  readonly fetching = new Store<ReadonlySet<string>>(new Set());
  readonly error = new Store<string | null>(null);
  private watching = new Set<string>();
  private closed = false;

  constructor(readonly boardId: string | null) {}

  async loadBoard(): Promise<void> {
    if (!this.boardId) return;
    const { items } = await unwrap(api.api.boards[":boardId"].runners.$get({ param: { boardId: this.boardId } }));
    this.board.set(items);
  }

  async loadAll(): Promise<void> {
    try {
      const { items } = await unwrap(api.api.runners.$get());
      this.all.set(items);
      this.error.set(null);
    } catch (err) {
      this.error.set(messageOf(err));
    }
  }

  async loadRepos(runnerId: string): Promise<Repo[]> {
    const { items } = await unwrap(api.api.runners[":runnerId"].repos.$get({ param: { runnerId } }));
    this.setRepos(runnerId, items);
    if (items.some((r) => r.status === "adding")) void this.watchAdding(runnerId);
    return items;
  }

  private setRepos(runnerId: string, items: Repo[]) {
    this.repos.update((m) => new Map(m).set(runnerId, items));
  }

  /**
   * A repo being added reports back through its runner's boards; a runner shared with no open
   * board has nobody to tell us, so re-read until nothing is `adding` any more.
   */
  private async watchAdding(runnerId: string) {
    if (this.watching.has(runnerId)) return;
    this.watching.add(runnerId);
    try {
      const until = Date.now() + JOB_POLL_LIMIT_MS;
      while (!this.closed && Date.now() < until) {
        await sleep(ADDING_POLL_MS);
        const list = this.repos.get().get(runnerId);
        if (!list?.some((r) => r.status === "adding")) return;
        const { items } = await unwrap(api.api.runners[":runnerId"].repos.$get({ param: { runnerId } }));
        this.setRepos(runnerId, items);
      }
    } catch {
      // The next explicit load will show what is there.
    } finally {
      this.watching.delete(runnerId);
    }
  }

  /** Room events for this board. */
  apply(e: EntityEvent): void {
    if (e.entity === "runner") {
      if (e.op === "removed") {
        this.board.update((l) => l?.filter((r) => r.id !== e.id) ?? null);
        return;
      }
      const row = e.row;
      if (!row) return;
      if (row.status === "revoked") {
        this.board.update((l) => l?.filter((r) => r.id !== row.id) ?? null);
      } else {
        this.board.update((l) => upsert(l, row, mergeRunner));
      }
      this.all.update((l) => (l?.some((r) => r.id === row.id) ? upsert(l, row, mergeRunner) : l));
    } else if (e.entity === "repo" && e.op === "removed") {
      this.dropRepo(e.id);
    } else if (e.entity === "repo" && e.row) {
      const repo = e.row;
      const list = this.repos.get().get(repo.runnerId);
      if (list) this.setRepos(repo.runnerId, upsertSorted(list, repo));
    }
  }

  // ---- writes: each throws the API's message for the form that asked ----

  async create(name: string) {
    const reg = await unwrap(api.api.runners.$post({ json: { name } }));
    this.all.update((l) => [reg.runner, ...(l ?? [])]);
    return reg;
  }

  async share(runnerId: string, boardId: string): Promise<void> {
    const runner = await unwrap(api.api.runners[":runnerId"].boards.$post({ param: { runnerId }, json: { boardId } }));
    this.all.update((l) => upsert(l, runner));
    if (boardId === this.boardId) this.board.update((l) => upsert(l, { ...runner, boardIds: [] }));
  }

  async unshare(runnerId: string, boardId: string): Promise<void> {
    try {
      await expectOk(api.api.runners[":runnerId"].boards[":boardId"].$delete({ param: { runnerId, boardId } }));
    } catch (err) {
      // Already not shared: the goal is met.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    this.all.update(
      (l) => l?.map((r) => (r.id === runnerId ? { ...r, boardIds: r.boardIds.filter((b) => b !== boardId) } : r)) ?? l,
    );
    if (boardId === this.boardId) this.board.update((l) => l?.filter((r) => r.id !== runnerId) ?? null);
  }

  /** Who may open terminals on the runner: its owner only, or members of the boards it is shared with. */
  async setTerminalAccess(runnerId: string, terminalAccess: Runner["terminalAccess"]): Promise<void> {
    const runner = await unwrap(
      api.api.runners[":runnerId"]["terminal-access"].$put({ param: { runnerId }, json: { terminalAccess } }),
    );
    this.all.update((l) => upsert(l, runner));
    this.board.update((l) => (l?.some((r) => r.id === runnerId) ? upsert(l, runner, mergeRunner) : l));
  }

  /** May the runner run the stdio MCP servers any writer on its boards added? Its owner decides. */
  async setBoardMcpStdio(runnerId: string, boardMcpStdio: boolean): Promise<void> {
    const runner = await unwrap(
      api.api.runners[":runnerId"]["board-mcp-stdio"].$put({ param: { runnerId }, json: { boardMcpStdio } }),
    );
    this.all.update((l) => upsert(l, runner));
    this.board.update((l) => (l?.some((r) => r.id === runnerId) ? upsert(l, runner, mergeRunner) : l));
  }

  async revoke(runnerId: string): Promise<void> {
    await expectOk(api.api.runners[":runnerId"].$delete({ param: { runnerId } }));
    this.all.update((l) => l?.map((r) => (r.id === runnerId ? { ...r, status: "revoked" as const } : r)) ?? null);
    this.board.update((l) => l?.filter((r) => r.id !== runnerId) ?? null);
  }

  async addRepo(runnerId: string, source: Repo["source"], name?: string): Promise<Repo> {
    const repo = await unwrap(
      api.api.runners[":runnerId"].repos.$post({ param: { runnerId }, json: name ? { source, name } : { source } }),
    );
    const list = this.repos.get().get(runnerId) ?? [];
    this.setRepos(runnerId, upsertSorted(list, repo));
    void this.watchAdding(runnerId);
    return repo;
  }

  /** Add a failed repo again. Throws the API's message. */
  async retryRepo(runnerId: string, repoId: string): Promise<void> {
    const repo = await unwrap(
      api.api.runners[":runnerId"].repos[":repoId"].retry.$post({ param: { runnerId, repoId } }),
    );
    this.setRepos(runnerId, upsertSorted(this.repos.get().get(runnerId) ?? [], repo));
    void this.watchAdding(runnerId);
  }

  /** Remove a repo from the runner (refused while cards use it). Throws the API's message. */
  async removeRepo(runnerId: string, repoId: string): Promise<void> {
    try {
      await expectOk(api.api.runners[":runnerId"].repos[":repoId"].$delete({ param: { runnerId, repoId } }));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    this.dropRepo(repoId);
  }

  private dropRepo(repoId: string) {
    this.repos.update((m) => {
      const next = new Map(m);
      for (const [runnerId, list] of m)
        next.set(
          runnerId,
          list.filter((r) => r.id !== repoId),
        );
      return next;
    });
  }

  /** Queue a fetch and follow its job to the end, then re-read the repo list for the new branches. */
  async fetchRepo(runnerId: string, repoId: string): Promise<void> {
    this.fetching.update((s) => new Set(s).add(repoId));
    try {
      let job = await unwrap(
        api.api.runners[":runnerId"].repos[":repoId"].fetch.$post({ param: { runnerId, repoId } }),
      );
      const until = Date.now() + JOB_POLL_LIMIT_MS;
      while (!ENDED.has(job.status) && !this.closed && Date.now() < until) {
        await sleep(JOB_POLL_MS);
        job = await unwrap(api.api.jobs[":jobId"].$get({ param: { jobId: job.id } }));
      }
      if (job.status === "failed") notify(`Fetch failed: ${job.error ?? "no reason given"}`, "error");
      await this.loadRepos(runnerId);
    } catch (err) {
      notify(messageOf(err), "error");
    } finally {
      this.fetching.update((s) => {
        const next = new Set(s);
        next.delete(repoId);
        return next;
      });
    }
  }

  close(): void {
    this.closed = true;
  }
}

function upsertSorted(list: Repo[], repo: Repo): Repo[] {
  return [...list.filter((r) => r.id !== repo.id), repo].sort((a, b) => a.name.localeCompare(b.name));
}

/** Every runner status the dot can show, worded for people. */
export const STATUS_LABEL: Record<Runner["status"], string> = {
  pending: "Waiting to register",
  online: "Online",
  offline: "Offline",
  revoked: "Revoked",
};

/** Run `fn` now and every `ms` while the tab is visible: runner status on screens with no room. */
export function usePoll(fn: () => Promise<void>, ms: number): void {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let live = true;
    const tick = async () => {
      if (document.visibilityState === "visible") await fn().catch(() => {});
      if (live) timer = setTimeout(tick, ms);
    };
    void tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [fn, ms]);
}
