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

/** Cards sit above zones; a card being dragged rises above the other cards (React Flow's own rule). */
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
