import type { Comment, CommentTarget, CreateCommentBody, EntityEvent } from "../../../protocol/index.ts";
import { type ApiClient, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";

/** Where a thread is: `board:`, `zone:<id>`, `worktree:<id>`, `session:<id>`. */
export const placeKey = (target: CommentTarget, targetId: string | null) => `${target}:${targetId ?? ""}`;
export const keyOf = (c: Pick<Comment, "target" | "targetId">) => placeKey(c.target, c.targetId);

const PAGE = 1000;
const MAX_PAGES = 20;

export interface Thread {
  root: Comment;
  replies: Comment[];
}

/**
 * The board's comments, outside React: every comment by id (`rows`), and the number of open
 * (unresolved) threads per place (`unresolved`, a new map only when a count changed), which is
 * what the cards' badges read. Kept current by the room's `comment` events and re-read on every
 * (re)join, like the sessions: a comment held but missing from a complete read was deleted while
 * we were not listening, unless it was written here after the read began.
 */
export class BoardComments {
  readonly rows = new Store<ReadonlyMap<string, Comment>>(new Map());
  readonly unresolved = new Store<ReadonlyMap<string, number>>(new Map());
  readonly loaded = new Store(false);
  private touched = new Map<string, number>();
  private tick = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly boardId: string,
  ) {}

  apply(e: EntityEvent): void {
    if (e.entity !== "comment") return;
    if (e.op === "removed") this.remove(e.id);
    else if (e.row) this.upsert(e.row);
  }

  upsert(row: Comment): void {
    const held = this.rows.get().get(row.id);
    this.touched.set(row.id, ++this.tick);
    if (held && held.updatedAt > row.updatedAt) return;
    this.rows.update((m) => new Map(m).set(row.id, row));
    this.recount();
  }

  remove(id: string): void {
    this.touched.delete(id);
    if (!this.rows.get().has(id)) return;
    this.rows.update((m) => {
      const next = new Map(m);
      next.delete(id);
      // A thread's replies go with it.
      for (const [k, c] of next) if (c.threadId === id) next.delete(k);
      return next;
    });
    this.recount();
  }

  async readAll(): Promise<void> {
    const startedAt = this.tick;
    const seen: Comment[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await unwrap(
        this.api.api.boards[":boardId"].comments.$get({
          param: { boardId: this.boardId },
          query: cursor ? { limit: String(PAGE), cursor } : { limit: String(PAGE) },
        }),
      );
      seen.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && ++pages < MAX_PAGES);
    const held = this.rows.get();
    const next = new Map<string, Comment>();
    for (const row of seen) {
      const mine = held.get(row.id);
      next.set(
        row.id,
        mine && (this.touched.get(row.id) ?? 0) > startedAt && mine.updatedAt > row.updatedAt ? mine : row,
      );
    }
    for (const [id, row] of held) {
      if (!next.has(id) && ((this.touched.get(id) ?? 0) > startedAt || cursor)) next.set(id, row);
    }
    this.rows.set(next);
    this.recount();
    this.loaded.set(true);
  }

  /** Threads at a place, oldest first, each with its replies; open ones before resolved ones. */
  threadsAt(target: CommentTarget, targetId: string | null): Thread[] {
    return threadsOf([...this.rows.get().values()], placeKey(target, targetId));
  }

  thread(id: string): Thread | undefined {
    const root = this.rows.get().get(id);
    if (!root || root.threadId) return undefined;
    return { root, replies: repliesOf([...this.rows.get().values()], id) };
  }

  private recount(): void {
    const counts = new Map<string, number>();
    for (const c of this.rows.get().values()) {
      if (c.threadId || c.resolvedAt) continue;
      const k = keyOf(c);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const prev = this.unresolved.get();
    const same = prev.size === counts.size && [...counts].every(([k, n]) => prev.get(k) === n);
    if (!same) this.unresolved.set(counts);
  }

  // ---- writes: the answer is applied at once; the room's echo of it is then a no-op ----

  async create(body: CreateCommentBody) {
    const c = await unwrap(
      this.api.api.boards[":boardId"].comments.$post({ param: { boardId: this.boardId }, json: body }),
    );
    this.upsert(c);
    return c;
  }

  async edit(commentId: string, body: string) {
    const c = await unwrap(
      this.api.api.boards[":boardId"].comments[":commentId"].$patch({
        param: { boardId: this.boardId, commentId },
        json: { body },
      }),
    );
    this.upsert(c);
    return c;
  }

  async delete(commentId: string) {
    await unwrap(
      this.api.api.boards[":boardId"].comments[":commentId"].$delete({ param: { boardId: this.boardId, commentId } }),
    );
    this.remove(commentId);
  }

  async setResolved(commentId: string, resolved: boolean) {
    const route = this.api.api.boards[":boardId"].comments[":commentId"];
    const param = { boardId: this.boardId, commentId };
    const c = await unwrap(resolved ? route.resolve.$post({ param }) : route.reopen.$post({ param }));
    this.upsert(c);
    return c;
  }

  async react(commentId: string, emoji: string, on: boolean) {
    const route = this.api.api.boards[":boardId"].comments[":commentId"].reactions[":emoji"];
    const param = { boardId: this.boardId, commentId, emoji };
    const c = await unwrap(on ? route.$put({ param }) : route.$delete({ param }));
    this.upsert(c);
    return c;
  }
}

function repliesOf(all: Comment[], threadId: string): Comment[] {
  return all.filter((c) => c.threadId === threadId).sort((a, b) => (a.id < b.id ? -1 : 1));
}

export function threadsOf(all: Comment[], key: string): Thread[] {
  return all
    .filter((c) => !c.threadId && keyOf(c) === key)
    .sort((a, b) => Number(!!a.resolvedAt) - Number(!!b.resolvedAt) || (a.id < b.id ? -1 : 1))
    .map((root) => ({ root, replies: repliesOf(all, root.id) }));
}
