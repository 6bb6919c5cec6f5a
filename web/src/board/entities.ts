import type { SetStateAction } from "react";
import type { Board, EntityEvent, Member, Worktree, Zone } from "../../../protocol/index.ts";
import { Store } from "../lib/store.ts";
import { type BoardNode, isCard, toCard, type WorktreeNode, type ZoneNode } from "./cards.ts";

/**
 * Zones sit under everything else on the board (worktree cards), selected or not: React Flow lifts a
 * selected node by 1,000, so a zone starts that far down and even a selected one stays under cards.
 */
const ZONE_Z = -1001;

/**
 * A zone row as a React Flow node. While this tab is dragging or resizing a zone, the local geometry
 * wins over whatever arrives, so a remote rename never yanks a zone out from under the pointer.
 */
export function toNode(zone: Zone, prev?: ZoneNode): ZoneNode {
  const busy = prev && (prev.dragging || prev.resizing);
  if (prev?.data.zone === zone) return prev;
  return {
    ...prev,
    id: zone.id,
    type: "zone",
    position: busy ? prev.position : { x: zone.x, y: zone.y },
    width: busy ? prev.width : zone.width,
    height: busy ? prev.height : zone.height,
    zIndex: ZONE_Z,
    data: { zone },
  };
}

const newer = (a: { updatedAt: number }, b: { updatedAt: number }) => a.updatedAt >= b.updatedAt;

/**
 * Merge a page of cards into the node list. Rows that did not change since we last saw them keep
 * their node object (a re-read after a reconnect then costs the canvas nothing), and a page that
 * changes nothing returns the same array, so React skips the render altogether.
 */
export function mergeCards(ns: BoardNode[], rows: Worktree[], skip: (id: string) => boolean): BoardNode[] {
  const at = new Map<string, number>();
  for (let i = 0; i < ns.length; i++) at.set(ns[i]!.id, i);
  let next: BoardNode[] | null = null;
  for (const wt of rows) {
    const i = at.get(wt.id);
    if (i === undefined) {
      next ??= ns.slice();
      at.set(wt.id, next.length);
      next.push(toCard(wt));
      continue;
    }
    const prev = (next ?? ns)[i] as WorktreeNode;
    if (skip(wt.id) || prev.data.wt.updatedAt === wt.updatedAt) continue;
    next ??= ns.slice();
    next[i] = toCard(wt, prev);
  }
  return next ?? ns;
}

/**
 * The board, its members, and its zones and worktree cards as canvas nodes: one store per slice,
 * so a view wakes only for the slice it shows. Kept current by the entity reducer (`apply`, the
 * room's events) and by snapshots (`takeMeta`, `takeCards`, `dropUnseen`, a REST read). Jobs,
 * runners and repos have their own stores; anything streamed many times a second must never be
 * kept here, where every change re-renders the canvas.
 */
export class BoardEntities {
  /** Null until the first read. */
  readonly board = new Store<Board | null>(null);
  readonly members = new Store<Member[]>([]);
  /** The canvas: zones, then worktree cards. */
  readonly nodes = new Store<BoardNode[]>([]);
  /** Why this tab must leave the board (deleted, or we were removed); null while we may stay. */
  readonly gone = new Store<string | null>(null);
  /** Writes of ours in flight per node: our own echoes are skipped until the last one answers. */
  private readonly pending = new Map<string, number>();

  constructor(private readonly myUserId: string) {}

  isPending = (id: string): boolean => (this.pending.get(id) ?? 0) > 0;

  /** Count a write in flight for a node (+1 when sent, -1 when answered); returns how many remain. */
  track(id: string, delta: 1 | -1): number {
    const n = (this.pending.get(id) ?? 0) + delta;
    if (n > 0) this.pending.set(id, n);
    else this.pending.delete(id);
    return n;
  }

  /** React Flow's and the canvas's own edits (selection, drags), as `useState`'s setter takes them. */
  setNodes = (next: SetStateAction<BoardNode[]>): void => {
    this.nodes.update(typeof next === "function" ? next : () => next);
  };

  node(id: string): BoardNode | undefined {
    return this.nodes.get().find((n) => n.id === id);
  }

  // ---- the reducer: one room event at a time ----

  /** An event about the board, a member, a zone or a card; events about other entities are not ours. */
  apply(e: EntityEvent) {
    switch (e.entity) {
      case "worktree":
        if (e.op === "removed") return this.drop(e.id);
        if (!e.row || (e.actorId === this.myUserId && this.isPending(e.id))) return;
        return this.upsertCard(e.row);
      case "zone":
        if (e.op === "removed") {
          // The server detached its cards in the same write; mirror it rather than re-read them.
          return this.nodes.update((ns) =>
            ns
              .filter((n) => n.id !== e.id)
              .map((n) => (isCard(n) && n.data.wt.zoneId === e.id ? toCard({ ...n.data.wt, zoneId: null }, n) : n)),
          );
        }
        if (!e.row || (e.actorId === this.myUserId && this.isPending(e.id))) return;
        return this.upsertZone(e.row);
      case "board": {
        if (e.op === "removed") return this.gone.set("This board was deleted.");
        const row = e.row;
        if (!row) return;
        // The event row is the board without anyone's role: keep ours.
        return this.board.update((b) => (b ? { ...b, ...row, role: b.role } : b));
      }
      case "member": {
        if (e.op === "removed") {
          if (e.id === this.myUserId) return this.gone.set("You were removed from this board.");
          this.members.update((ms) => ms.filter((m) => m.userId !== e.id));
          return;
        }
        const m = e.row;
        if (!m) return;
        this.upsertMember(m);
        if (m.userId === this.myUserId) this.board.update((b) => (b ? { ...b, role: m.role } : b));
      }
    }
  }

  upsertZone(zone: Zone): void {
    this.nodes.update((ns) => {
      const i = ns.findIndex((n) => n.id === zone.id);
      if (i < 0) return [...ns, toNode(zone)];
      const prev = ns[i] as ZoneNode;
      if (!newer(zone, prev.data.zone)) return ns;
      const next = ns.slice();
      next[i] = toNode(zone, prev);
      return next;
    });
  }

  upsertCard(wt: Worktree): void {
    this.nodes.update((ns) => {
      const i = ns.findIndex((n) => n.id === wt.id);
      if (i < 0) return [...ns, toCard(wt)];
      const prev = ns[i] as WorktreeNode;
      if (!newer(wt, prev.data.wt)) return ns;
      const next = ns.slice();
      next[i] = toCard(wt, prev);
      return next;
    });
  }

  upsertMember(m: Member): void {
    this.members.update((ms) =>
      ms.some((x) => x.userId === m.userId) ? ms.map((x) => (x.userId === m.userId ? m : x)) : [...ms, m],
    );
  }

  drop(id: string): void {
    this.nodes.update((ns) => ns.filter((n) => n.id !== id));
  }

  // ---- snapshots: what a REST read found ----

  /** The board, its zones and members as just read. Zones with a write of ours in flight keep ours. */
  takeMeta(board: Board, zones: Zone[], members: Member[]): void {
    this.board.set(board);
    this.members.set(members);
    this.nodes.update((ns) => {
      const prev = new Map(ns.map((n) => [n.id, n]));
      const next = zones.map((zone) => {
        const p = prev.get(zone.id) as ZoneNode | undefined;
        return p && this.isPending(zone.id) ? p : toNode(zone, p);
      });
      return [...next, ...ns.filter(isCard)];
    });
  }

  /** One page of cards as just read. */
  takeCards(rows: Worktree[]): void {
    this.nodes.update((ns) => mergeCards(ns, rows, this.isPending));
  }

  /**
   * After a complete read of the cards (up to `until`, if given): cards gone while we were not
   * listening, in the range the read covered, go. A card with a write of ours in flight stays.
   */
  dropUnseen(seen: ReadonlySet<string>, until?: string): void {
    const gone = (n: BoardNode) =>
      isCard(n) && !seen.has(n.id) && !this.isPending(n.id) && (until === undefined || n.id <= until);
    this.nodes.update((ns) => (ns.some(gone) ? ns.filter((n) => !gone(n)) : ns));
  }
}
