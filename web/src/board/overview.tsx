import { type ReactFlowState as FlowState, useStoreApi, ViewportPortal } from "@xyflow/react";
import { useEffect, useMemo, useRef, useState } from "react";
import { type BoardNode, CARD, isCard, type WorktreeNode } from "./cards.ts";

type ReactFlowState = FlowState<BoardNode>;

/**
 * How a board of thousands of cards stays fast. React Flow is handed the zones plus only the cards
 * near the view (it then mounts the ones actually on screen), so its per-frame bookkeeping, the
 * minimap and selection all work on a few hundred nodes, not thousands. Zoomed out past the point
 * where a card can be read, cards leave React Flow altogether and one <canvas> draws them all.
 */

/**
 * When cards are drawn on the canvas instead of as nodes. Below `FAR` always: a card's 14 px text
 * is 4 px there, and the canvas writes names at a fixed 11.5 px. From `FAR` up to `NEAR` only when
 * the view holds more cards than `DENSE` (a small board keeps its real cards at any sensible zoom;
 * a big one switches before the number of nodes makes panning stutter). From `NEAR` up, never.
 * Each threshold has a little slack the other way so the mode does not flicker at the edge.
 */
const FAR = 0.3;
const NEAR = 0.66;
const DENSE = 90;
const SLACK = { zoom: 0.04, cards: 20 };
/** The region handed to React Flow reaches this many view-sizes beyond each edge of the view. */
const MARGIN = 0.5;

type Rect = { x: number; y: number; width: number; height: number };
type View = { overview: boolean; region: Rect | null };

function viewRect(s: ReactFlowState): Rect {
  const [tx, ty, zoom] = s.transform;
  return { x: -tx / zoom, y: -ty / zoom, width: s.width / zoom, height: s.height / zoom };
}

const contains = (outer: Rect, inner: Rect) =>
  inner.x >= outer.x &&
  inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width &&
  inner.y + inner.height <= outer.y + outer.height;

const intersects = (r: Rect, x: number, y: number, w: number, h: number) =>
  x < r.x + r.width && x + w > r.x && y < r.y + r.height && y + h > r.y;

function countIn(r: Rect, cards: readonly BoardNode[]): number {
  let n = 0;
  for (const c of cards) if (intersects(r, c.position.x, c.position.y, CARD.width, CARD.height)) n++;
  return n;
}

function nextView(prev: View, s: ReactFlowState, cards: readonly BoardNode[]): View {
  const zoom = s.transform[2];
  const slack = prev.overview ? 1 : 0;
  const overview =
    zoom < FAR + slack * SLACK.zoom ||
    (zoom < NEAR + slack * SLACK.zoom && countIn(viewRect(s), cards) > DENSE - slack * SLACK.cards);
  if (overview) return prev.overview ? prev : { overview, region: null };
  const v = viewRect(s);
  // Keep the region while the view is inside it and it is not much bigger than needed.
  const r = prev.region;
  if (!prev.overview && r && contains(r, v) && r.width * r.height < 16 * v.width * v.height) return prev;
  const region = {
    x: v.x - v.width * MARGIN,
    y: v.y - v.height * MARGIN,
    width: v.width * (1 + 2 * MARGIN),
    height: v.height * (1 + 2 * MARGIN),
  };
  return { overview, region };
}

/**
 * The nodes React Flow should know about right now, and whether the board is in overview. Changes
 * only when the view leaves the region it was computed for (or crosses the overview zoom), so a pan
 * re-renders nothing here most frames.
 */
export function useCulledNodes(nodes: BoardNode[]): { flowNodes: BoardNode[]; overview: boolean } {
  const store = useStoreApi<BoardNode>();
  const cards = useMemo(() => nodes.filter(isCard), [nodes]);
  const cardsRef = useRef(cards);
  cardsRef.current = cards;
  const [view, setView] = useState<View>(() => nextView({ overview: false, region: null }, store.getState(), cards));
  useEffect(() => {
    const update = (s: ReactFlowState) => setView((prev) => nextView(prev, s, cardsRef.current));
    update(store.getState());
    return store.subscribe((s, prev) => {
      if (s.transform !== prev.transform || s.width !== prev.width || s.height !== prev.height) update(s);
    });
  }, [store]);
  // More cards (a page loading, a new card) can tip the view into overview, or out of it.
  useEffect(() => {
    setView((prev) => nextView(prev, store.getState(), cards));
  }, [cards, store]);

  const flowNodes = useMemo(() => {
    const region = view.region;
    return nodes.filter((n) => {
      if (!isCard(n)) return true;
      if (n.selected || n.dragging) return true;
      if (view.overview || !region) return false;
      return intersects(region, n.position.x, n.position.y, CARD.width, CARD.height);
    });
  }, [nodes, view]);
  return { flowNodes, overview: view.overview };
}

const STATUS_COLOR: Record<string, string> = {
  ready: "#22c55e",
  creating: "#f59e0b",
  deleting: "#94a3b8",
  error: "#dc2626",
};
/** Card names are drawn once a card is at least this wide on screen, branches once this tall. */
const NAME_MIN_PX = 60;
const BRANCH_MIN_PX = 44;

/**
 * Every card as a small rectangle with its status stripe (and its name, when there is room), drawn
 * in screen space on one canvas that sits inside the viewport layer under the cursors. Redrawn
 * synchronously on each viewport change, so it moves in the same frame as the zones beneath it.
 */
export function CardOverview({ nodes, active }: { nodes: BoardNode[]; active: boolean }) {
  const store = useStoreApi<BoardNode>();
  const canvas = useRef<HTMLCanvasElement>(null);
  const cards = useMemo(() => (active ? nodes.filter(isCard) : []), [nodes, active]);
  const zones = useMemo(() => (active ? nodes.filter((n) => n.type === "zone") : []), [nodes, active]);

  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    if (!active) {
      el.removeAttribute("data-cards-drawn");
      return;
    }
    let drawn: ReactFlowState["transform"] | null = null;
    const draw = (s: ReactFlowState) => {
      if (drawn === s.transform && el.width === Math.round(s.width * devicePixelRatio)) return;
      drawn = s.transform;
      paint(el, s, cards, zones as Extract<BoardNode, { type: "zone" }>[]);
    };
    draw(store.getState());
    return store.subscribe((s) => draw(s));
  }, [active, cards, zones, store]);

  return (
    <ViewportPortal>
      <canvas
        ref={canvas}
        className="card-overview"
        hidden={!active}
        role="img"
        aria-label="Worktree cards, zoomed out"
      />
    </ViewportPortal>
  );
}

function paint(
  el: HTMLCanvasElement,
  s: ReactFlowState,
  cards: WorktreeNode[],
  zones: Extract<BoardNode, { type: "zone" }>[],
) {
  const [tx, ty, zoom] = s.transform;
  const dpr = devicePixelRatio || 1;
  const w = Math.round(s.width * dpr);
  const h = Math.round(s.height * dpr);
  if (el.width !== w || el.height !== h) {
    el.width = w;
    el.height = h;
    el.style.width = `${s.width}px`;
    el.style.height = `${s.height}px`;
  }
  // Undo the viewport's transform: the canvas covers the screen whatever the pan and zoom.
  el.style.transform = `translate(${-tx / zoom}px, ${-ty / zoom}px) scale(${1 / zoom})`;
  const ctx = el.getContext("2d")!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, s.width, s.height);
  const cw = CARD.width * zoom;
  const ch = CARD.height * zoom;
  const stripe = Math.max(1, 4 * zoom);
  const withNames = cw >= NAME_MIN_PX;
  const visible: WorktreeNode[] = [];
  ctx.fillStyle = "#ffffff";
  for (const n of cards) {
    const x = n.position.x * zoom + tx;
    const y = n.position.y * zoom + ty;
    if (x > s.width || y > s.height || x + cw < 0 || y + ch < 0) continue;
    visible.push(n);
    ctx.fillRect(x, y, cw, ch);
  }
  for (const n of visible) {
    ctx.fillStyle = STATUS_COLOR[n.data.wt.status] ?? "#64748b";
    ctx.fillRect(n.position.x * zoom + tx, n.position.y * zoom + ty, stripe, ch);
  }
  if (withNames) {
    ctx.fillStyle = "#0f172a";
    ctx.font = "600 11.5px system-ui, sans-serif";
    ctx.textBaseline = "top";
    const maxW = cw - stripe - 10;
    for (const n of visible) {
      ctx.fillText(n.data.wt.name, n.position.x * zoom + tx + stripe + 5, n.position.y * zoom + ty + 5, maxW);
    }
    if (ch >= BRANCH_MIN_PX) {
      ctx.fillStyle = "#64748b";
      ctx.font = "10.5px ui-monospace, monospace";
      for (const n of visible) {
        ctx.fillText(n.data.wt.branch, n.position.x * zoom + tx + stripe + 5, n.position.y * zoom + ty + 21, maxW);
      }
    }
  }
  // Zone names at a readable size: the zones' own headers are too small to read out here.
  ctx.font = "650 13px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  for (const z of zones) {
    const x = z.position.x * zoom + tx;
    const y = z.position.y * zoom + ty;
    if (x > s.width || y > s.height || x + (z.width ?? 0) * zoom < 0 || y < 0) continue;
    ctx.fillStyle = z.data.zone.color;
    ctx.fillText(z.data.zone.name, x + 2, y - 4, Math.max(40, (z.width ?? 0) * zoom));
  }
  el.setAttribute("data-cards-drawn", String(visible.length));
}

/** The card under a canvas point, for clicks on the overview (which has no DOM per card). */
export function cardAt(nodes: readonly BoardNode[], p: { x: number; y: number }): WorktreeNode | null {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (
      isCard(n) &&
      p.x >= n.position.x &&
      p.x <= n.position.x + CARD.width &&
      p.y >= n.position.y &&
      p.y <= n.position.y + CARD.height
    )
      return n;
  }
  return null;
}

/** The extent of everything on the board, for framing it. */
export function boardBounds(nodes: readonly BoardNode[]): Rect | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const n of nodes) {
    const w = isCard(n) ? CARD.width : (n.width ?? 0);
    const h = isCard(n) ? CARD.height : (n.height ?? 0);
    x0 = Math.min(x0, n.position.x);
    y0 = Math.min(y0, n.position.y);
    x1 = Math.max(x1, n.position.x + w);
    y1 = Math.max(y1, n.position.y + h);
  }
  return Number.isFinite(x0) ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}
