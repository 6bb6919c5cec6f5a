import type { Comment, CommentTarget } from "../../../protocol/index.ts";
import { keyOf, placeKey, type Thread, threadsOf } from "./comments.ts";

/** One place in the comments panel, with the places under it. */
export interface PlaceNode {
  key: string;
  target: CommentTarget;
  targetId: string | null;
  name: string;
  /** Its own threads, as shown (resolved ones only when asked for). */
  threads: Thread[];
  /** Open threads here and in every place under it. */
  open: number;
  children: PlaceNode[];
}

export interface CommentTree {
  board: PlaceNode | null;
  /** Each zone, its cards under it, each card's sessions under that. */
  zones: PlaceNode[];
  /** Cards in no zone. */
  loose: PlaceNode[];
  /** Threads on a zone, card or session no longer on the board. */
  removed: PlaceNode[];
}

export interface TreeInput {
  comments: Iterable<Comment>;
  zones: readonly { id: string; name: string }[];
  cards: readonly { id: string; name: string; zoneId: string | null }[];
  sessions: readonly { id: string; worktreeId: string; title: string }[];
  showResolved: boolean;
  /** A thread shown even when resolved (the one a link points at). */
  keep?: string | null;
}

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

/**
 * The panel's outline, board → zones → worktrees → sessions (a session's message threads are its
 * own): a place appears when it, or a place under it, has a thread to show.
 */
export function commentTree(input: TreeInput): CommentTree {
  const all = [...input.comments];
  const withThreads = new Set(all.filter((c) => !c.threadId).map(keyOf));
  const used = new Set<string>();
  const place = (target: CommentTarget, targetId: string | null, name: string, children: PlaceNode[] = []) => {
    const key = placeKey(target, targetId);
    used.add(key);
    const every = withThreads.has(key) ? threadsOf(all, key) : [];
    const threads = every.filter((t) => input.showResolved || !t.root.resolvedAt || t.root.id === input.keep);
    const own = every.filter((t) => !t.root.resolvedAt).length;
    const open = own + children.reduce((n, c) => n + c.open, 0);
    const node: PlaceNode = { key, target, targetId, name, threads, open, children };
    return threads.length > 0 || children.length > 0 ? node : null;
  };
  const present = <T>(xs: (T | null)[]) => xs.filter((x): x is T => x !== null);

  const sessionsOf = new Map<string, { id: string; title: string }[]>();
  for (const s of input.sessions) {
    const list = sessionsOf.get(s.worktreeId);
    if (list) list.push(s);
    else sessionsOf.set(s.worktreeId, [s]);
  }
  const card = (c: TreeInput["cards"][number]) =>
    place(
      "worktree",
      c.id,
      c.name,
      present(
        (sessionsOf.get(c.id) ?? [])
          .sort((a, b) => (a.id < b.id ? -1 : 1))
          .map((s) => place("session", s.id, s.title || "Untitled session")),
      ),
    );
  const zoneIds = new Set(input.zones.map((z) => z.id));
  const inZone = new Map<string | null, TreeInput["cards"][number][]>();
  for (const c of [...input.cards].sort(byName)) {
    const z = c.zoneId && zoneIds.has(c.zoneId) ? c.zoneId : null;
    const list = inZone.get(z);
    if (list) list.push(c);
    else inZone.set(z, [c]);
  }
  const zones = present(
    [...input.zones].sort(byName).map((z) => place("zone", z.id, z.name, present((inZone.get(z.id) ?? []).map(card)))),
  );
  const loose = present((inZone.get(null) ?? []).map(card));
  const board = place("board", null, "The board");

  const gone = new Map<string, Comment>();
  for (const c of all) if (!c.threadId && !used.has(keyOf(c)) && !gone.has(keyOf(c))) gone.set(keyOf(c), c);
  const removed = present(
    [...gone.values()].map((c) => (c.target === "board" ? null : place(c.target, c.targetId, `A removed ${c.target}`))),
  );
  return { board, zones, loose, removed };
}

/** A card's count: its own open threads and its sessions' (a session lives on its card). */
export function cardOpenCount(
  unresolved: ReadonlyMap<string, number>,
  worktreeId: string,
  sessionIds: Iterable<string>,
): number {
  let n = unresolved.get(placeKey("worktree", worktreeId)) ?? 0;
  for (const id of sessionIds) n += unresolved.get(placeKey("session", id)) ?? 0;
  return n;
}
