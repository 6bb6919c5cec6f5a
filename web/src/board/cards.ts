import type { Node } from "@xyflow/react";
import type { Worktree, Zone } from "../../../protocol/index.ts";

/**
 * Worktree cards as canvas nodes. Every card has the same fixed size, given to React Flow up front
 * (`measured`): it can cull off-screen cards before ever mounting them, and mounting one never
 * reports a size change back through `onNodesChange` (which would copy the whole node list).
 */
export const CARD = { width: 264, height: 128 } as const;

export type ZoneNode = Node<{ zone: Zone }, "zone">;
export type WorktreeNode = Node<{ wt: Worktree }, "worktree">;
export type BoardNode = ZoneNode | WorktreeNode;

/** Cards sit above zones; a selected or dragged card rises above the other cards (React Flow adds 1,000). */
const CARD_Z = 1;

export const isCard = (n: BoardNode): n is WorktreeNode => n.type === "worktree";
export const isZone = (n: BoardNode): n is ZoneNode => n.type === "zone";

/** A worktree row as a node; the same node object back when nothing it shows has changed. */
export function toCard(wt: Worktree, prev?: WorktreeNode): WorktreeNode {
  if (prev?.data.wt === wt) return prev;
  // While this tab drags the card, its local position wins over whatever arrives.
  const position = prev?.dragging ? prev.position : { x: wt.x, y: wt.y };
  return {
    ...prev,
    id: wt.id,
    type: "worktree",
    position,
    width: CARD.width,
    height: CARD.height,
    measured: { width: CARD.width, height: CARD.height },
    zIndex: CARD_Z,
    data: { wt },
  };
}

type Rect = { x: number; y: number; width: number; height: number };

/** The zone a card belongs to: the topmost zone whose rectangle holds the card's center, if any. */
export function zoneAt(nodes: readonly BoardNode[], card: { x: number; y: number }): string | null {
  const cx = card.x + CARD.width / 2;
  const cy = card.y + CARD.height / 2;
  let hit: string | null = null;
  for (const n of nodes) {
    if (n.type !== "zone") continue;
    const r: Rect = { x: n.position.x, y: n.position.y, width: n.width ?? 0, height: n.height ?? 0 };
    if (cx >= r.x && cx <= r.x + r.width && cy >= r.y && cy <= r.y + r.height) hit = n.id;
  }
  return hit;
}

const GAP = 16;

// ---- zones hold cards in a grid of slots ----

/** The zone's name bar; slots start below it. */
export const ZONE_HEADER = 40;
const ZONE_PAD = 16;
const STEP_X = CARD.width + GAP;
const STEP_Y = CARD.height + GAP;

type Pos = { x: number; y: number };

const overlaps = (a: Pos, b: Pos) => Math.abs(a.x - b.x) < CARD.width && Math.abs(a.y - b.y) < CARD.height;

/** The zone's slot grid: where slot (col, row) is, and how many fit in its current size. */
export function zoneGrid(zone: { x: number; y: number; width: number; height: number }) {
  const cols = Math.max(1, Math.floor((zone.width - 2 * ZONE_PAD + GAP) / STEP_X));
  const rows = Math.max(1, Math.floor((zone.height - ZONE_HEADER - ZONE_PAD + GAP) / STEP_Y));
  const at = (col: number, row: number): Pos => ({
    x: Math.round(zone.x + ZONE_PAD + col * STEP_X),
    y: Math.round(zone.y + ZONE_HEADER + row * STEP_Y),
  });
  /** The height that holds `rows` rows of slots. */
  const heightFor = (rows: number) => ZONE_HEADER + rows * STEP_Y - GAP + ZONE_PAD;
  return { cols, rows, at, heightFor };
}

export interface Placement {
  x: number;
  y: number;
  zoneId: string | null;
  /** Set when the zone had no free slot: grow it to this height so the card fits inside. */
  growZone?: { zoneId: string; height: number };
}

/**
 * Where a card dropped (or made) with its top-left at `want` goes. Inside a zone (its center in it),
 * it takes the free slot nearest to where it was dropped, so it sits wholly inside and covers no other
 * card; a full zone grows by a row. Outside every zone it stays where it was put, moved down only
 * as far as needed not to cover another card. `self` is the card being placed (never in its own way).
 */
export function placeCard(nodes: readonly BoardNode[], want: Pos, self?: string): Placement {
  const zoneId = zoneAt(nodes, want);
  const others = nodes.filter((n) => n.type === "worktree" && n.id !== self);
  if (!zoneId) return { ...freeCardSpot(others, want), zoneId: null };
  const zone = nodes.find((n) => n.id === zoneId)!;
  const rect = { x: zone.position.x, y: zone.position.y, width: zone.width ?? 0, height: zone.height ?? 0 };
  const grid = zoneGrid(rect);
  const free = (p: Pos) => !others.some((n) => overlaps(n.position, p));
  let best: Pos | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (let row = 0; row < grid.rows; row++) {
    for (let col = 0; col < grid.cols; col++) {
      const p = grid.at(col, row);
      const d = (p.x - want.x) ** 2 + (p.y - want.y) ** 2;
      if (d < bestD && free(p)) [best, bestD] = [p, d];
    }
  }
  if (best) return { ...best, zoneId };
  // Full: add rows below until a slot is free (a card parked under the zone's edge may take one).
  for (let row = grid.rows; row < grid.rows + 50; row++) {
    for (let col = 0; col < grid.cols; col++) {
      const p = grid.at(col, row);
      if (free(p)) return { ...p, zoneId, growZone: { zoneId, height: grid.heightFor(row + 1) } };
    }
  }
  return { ...grid.at(0, grid.rows), zoneId };
}

/**
 * While a zone is dragged, its cards go with it: each position change of a zone (from `before` to
 * `after`, React Flow's node lists around `applyNodeChanges`) moves the cards in it by as much,
 * except cards that are themselves being dragged in the same gesture.
 */
export function carryCards(
  before: BoardNode[],
  after: BoardNode[],
  changes: readonly { type: string; id?: string; position?: Pos }[],
): BoardNode[] {
  const deltas = new Map<string, Pos>();
  const moving = new Set<string>();
  for (const c of changes) {
    if (c.type !== "position" || !c.position || !c.id) continue;
    moving.add(c.id);
    const prev = before.find((n) => n.id === c.id);
    if (prev?.type !== "zone") continue;
    const dx = c.position.x - prev.position.x;
    const dy = c.position.y - prev.position.y;
    if (dx || dy) deltas.set(c.id, { x: dx, y: dy });
  }
  if (deltas.size === 0) return after;
  return after.map((n) => {
    const by =
      n.type === "worktree" && n.data.wt.zoneId && !moving.has(n.id) ? deltas.get(n.data.wt.zoneId) : undefined;
    return by ? { ...n, position: { x: n.position.x + by.x, y: n.position.y + by.y } } : n;
  });
}

/** Where a new card goes near `want` (its top-left) without covering another card. */
export function freeCardSpot(nodes: readonly BoardNode[], want: { x: number; y: number }) {
  const { x } = want;
  let { y } = want;
  for (let tries = 0; tries < 60; tries++) {
    const hit = nodes.some(
      (n) =>
        n.type === "worktree" &&
        Math.abs(n.position.x - x) < CARD.width + GAP &&
        Math.abs(n.position.y - y) < CARD.height + GAP,
    );
    if (!hit) break;
    y += CARD.height + GAP;
  }
  return { x, y };
}

/** `https://github.com/org/repo/pull/12` → `PR #12`; issues → `#12`; anything else → its host. */
export function issueLabel(url: string): string {
  try {
    const u = new URL(url);
    const m = /\/(pull|pulls|merge_requests|issues)\/(\d+)/.exec(u.pathname);
    if (m) return m[1] === "issues" ? `#${m[2]}` : `PR #${m[2]}`;
    const jira = /\/browse\/([A-Z][A-Z0-9]+-\d+)/.exec(u.pathname);
    if (jira) return jira[1]!;
    return u.hostname.replace(/^www\./, "");
  } catch {
    return "link";
  }
}
