import { type ReactFlowState, useReactFlow, useStoreApi } from "@xyflow/react";
import { type PointerEvent, useEffect, useMemo, useRef } from "react";
import { type BoardNode, CARD, isCard } from "./cards.ts";
import { boardBounds } from "./overview.tsx";

const W = 200;
const H = 140;
const PAD = 8;
const STATUS: Record<string, string> = { ready: "#64748b", creating: "#f59e0b", deleting: "#94a3b8", error: "#dc2626" };

type Fit = { scale: number; ox: number; oy: number };

/** Put the view's frame where the view is: one style write, no React render. */
function placeFrame(el: HTMLDivElement | null, { scale, ox, oy }: Fit, s: ReactFlowState<BoardNode>) {
  if (!el) return;
  const [tx, ty, zoom] = s.transform;
  el.style.transform = `translate(${(-tx / zoom) * scale + ox}px, ${(-ty / zoom) * scale + oy}px)`;
  el.style.width = `${(s.width / zoom) * scale}px`;
  el.style.height = `${(s.height / zoom) * scale}px`;
}

/**
 * The board in miniature: every zone and card drawn once on a small canvas (again only when the
 * board changes), and the view as a frame moved with a CSS transform. A pan costs one style write,
 * unlike React Flow's SVG minimap, which re-renders every node on every frame. Click or drag in it
 * to move the view there.
 */
export function Minimap({ nodes }: { nodes: BoardNode[] }) {
  const store = useStoreApi<BoardNode>();
  const flow = useReactFlow<BoardNode>();
  const canvas = useRef<HTMLCanvasElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const fit = useRef<Fit>({ scale: 1, ox: 0, oy: 0 });
  const bounds = useMemo(() => boardBounds(nodes), [nodes]);

  // The drawing: only when the board's content changes.
  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const dpr = devicePixelRatio || 1;
    el.width = W * dpr;
    el.height = H * dpr;
    const ctx = el.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    if (!bounds) return;
    const scale = Math.min((W - 2 * PAD) / bounds.width, (H - 2 * PAD) / bounds.height);
    const f = {
      scale,
      ox: PAD + (W - 2 * PAD - bounds.width * scale) / 2 - bounds.x * scale,
      oy: PAD + (H - 2 * PAD - bounds.height * scale) / 2 - bounds.y * scale,
    };
    fit.current = f;
    for (const n of nodes) {
      if (n.type !== "zone") continue;
      const x = n.position.x * scale + f.ox;
      const y = n.position.y * scale + f.oy;
      const w = (n.width ?? 0) * scale;
      const h = (n.height ?? 0) * scale;
      ctx.fillStyle = `${n.data.zone.color}33`;
      ctx.fillRect(x, y, w, h);
      ctx.strokeStyle = `${n.data.zone.color}aa`;
      ctx.lineWidth = 1;
      ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
    }
    const cw = Math.max(1, CARD.width * scale);
    const ch = Math.max(1, CARD.height * scale);
    for (const n of nodes) {
      if (!isCard(n)) continue;
      ctx.fillStyle = STATUS[n.data.wt.status] ?? "#64748b";
      ctx.fillRect(n.position.x * scale + f.ox, n.position.y * scale + f.oy, cw, ch);
    }
    placeFrame(frame.current, f, store.getState());
  }, [nodes, bounds, store]);

  // The view frame: on every viewport change, without React.
  useEffect(
    () =>
      store.subscribe((s, prev) => {
        if (s.transform !== prev.transform || s.width !== prev.width || s.height !== prev.height)
          placeFrame(frame.current, fit.current, s);
      }),
    [store],
  );

  const moveTo = (e: PointerEvent<HTMLDivElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const { scale, ox, oy } = fit.current;
    const x = (e.clientX - rect.left - ox) / scale;
    const y = (e.clientY - rect.top - oy) / scale;
    void flow.setCenter(x, y, { zoom: flow.getZoom() });
  };

  // An empty board has nothing to map.
  if (!bounds) return null;
  return (
    <div
      className="minimap"
      role="presentation"
      onPointerDown={(e) => {
        e.currentTarget.setPointerCapture(e.pointerId);
        moveTo(e);
      }}
      onPointerMove={(e) => e.buttons === 1 && moveTo(e)}
      title="Click or drag to move around the board"
      data-testid="minimap"
    >
      <canvas ref={canvas} style={{ width: W, height: H }} />
      <div className="minimap-frame" ref={frame} />
    </div>
  );
}
