import { useEffect } from "react";
import type { Drag } from "../../../protocol/index.ts";
import type { Store } from "../lib/store.ts";
import type { BoardNode } from "./cards.ts";
import type { PresenceStore } from "./presence.ts";

/** After someone's drag ends, how long to wait for the drop's write before showing rows again. */
const SETTLE_MS = 1500;

/**
 * Other people's drags, live: while someone drags cards or a zone, their room presence carries the
 * live positions and this moves the same nodes here (a zone takes its cards along). It never fights
 * a drag of our own, and a drag that ends without a write (dropped where it started) puts the
 * nodes back where their rows say, once the drop has had time to land.
 */
export function useRemoteDrags(presence: PresenceStore, nodes: Store<BoardNode[]>) {
  useEffect(() => {
    const last = new Map<string, string>();
    const timers = new Set<ReturnType<typeof setTimeout>>();
    /** Nodes a peer is dragging now (connection → items). */
    const active = new Map<string, NonNullable<Drag>>();

    const settle = (ids: string[]) => {
      const t = setTimeout(() => {
        timers.delete(t);
        const still = new Set([...active.values()].flat().map((d) => d.id));
        const back = new Set(ids.filter((id) => !still.has(id)));
        nodes.update((ns) => reset(ns, back));
      }, SETTLE_MS);
      timers.add(t);
    };

    const onFrame = () => {
      const moves = new Map<string, { x: number; y: number }>();
      for (const p of presence.others()) {
        const drag = p.drag ?? null;
        const sig = drag ? JSON.stringify(drag) : "";
        if (last.get(p.connectionId) === sig) continue;
        const was = active.get(p.connectionId);
        last.set(p.connectionId, sig);
        if (drag?.length) {
          active.set(p.connectionId, drag);
          for (const d of drag) moves.set(d.id, { x: d.x, y: d.y });
        } else if (was) {
          active.delete(p.connectionId);
          settle(was.map((d) => d.id));
        }
      }
      if (moves.size === 0) return;
      if (!nodes.get().some((n) => moves.has(n.id))) return;
      nodes.update((ns) => follow(ns, moves));
    };
    const unsubscribe = presence.subscribeCursors(onFrame);
    return () => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
    };
  }, [presence, nodes]);
}

/** Put nodes at the positions a peer's drag gives them; zones carry their cards by as much. */
function follow(ns: BoardNode[], moves: Map<string, { x: number; y: number }>): BoardNode[] {
  const carry = new Map<string, { x: number; y: number }>();
  for (const n of ns) {
    const to = moves.get(n.id);
    if (n.type === "zone" && to && !n.dragging) carry.set(n.id, { x: to.x - n.position.x, y: to.y - n.position.y });
  }
  return ns.map((n) => {
    if (n.dragging) return n;
    const to = moves.get(n.id);
    if (to) return to.x === n.position.x && to.y === n.position.y ? n : { ...n, position: to };
    const by = n.type === "worktree" && n.data.wt.zoneId ? carry.get(n.data.wt.zoneId) : undefined;
    return by && (by.x || by.y) ? { ...n, position: { x: n.position.x + by.x, y: n.position.y + by.y } } : n;
  });
}

/** Back to where the rows say, for nodes (and the cards of zones) whose drag ended with no write. */
function reset(ns: BoardNode[], ids: Set<string>): BoardNode[] {
  if (ids.size === 0) return ns;
  const zones = new Set(ns.filter((n) => n.type === "zone" && ids.has(n.id)).map((n) => n.id));
  return ns.map((n) => {
    if (n.dragging) return n;
    const row = n.type === "zone" ? n.data.zone : n.data.wt;
    const hit = ids.has(n.id) || (n.type === "worktree" && !!n.data.wt.zoneId && zones.has(n.data.wt.zoneId));
    if (!hit || (n.position.x === row.x && n.position.y === row.y)) return n;
    return { ...n, position: { x: row.x, y: row.y } };
  });
}
