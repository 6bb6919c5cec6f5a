import { lazy, Suspense, useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { Terminal } from "../../../protocol/index.ts";
import type { BoardEntities } from "../board/entities.ts";
import { useWorktree } from "../board/useBoard.ts";
import { useStore } from "../lib/store.ts";
import type { RunnerStore } from "../runners/store.ts";
import type { TerminalStore } from "./store.ts";

// xterm is loaded with the first panel: the board itself never pays for it.
const TerminalPanel = lazy(() => import("./TerminalPanel.tsx"));

const HEIGHT_KEY = "trellis.terminalHeight";
const MIN_HEIGHT = 160;

/**
 * The terminal panel, docked under the canvas and as tall as its person drags it. It keeps the
 * terminal it shows after the terminal ends (the store forgets ended ones), so the panel can say
 * who ended it.
 */
export function TerminalDock({
  store,
  entities,
  runners,
  meId,
}: {
  store: TerminalStore;
  entities: BoardEntities;
  runners: RunnerStore;
  meId: string;
}) {
  const openId = useStore(store.open);
  const [shown, setShown] = useState<Terminal | null>(null);
  useEffect(() => {
    if (!openId) return setShown(null);
    const t = store.get(openId);
    if (t) setShown((prev) => (prev?.id === t.id ? prev : t));
  }, [openId, store]);
  const wt = useWorktree(entities, shown?.worktreeId);
  const runner = useSyncExternalStore(runners.board.subscribe, () =>
    runners.board.get()?.find((r) => r.id === shown?.runnerId),
  );
  const [height, setHeight] = useState(() => Number(localStorage.getItem(HEIGHT_KEY)) || 320);
  const drag = useRef<{ y: number; h: number } | null>(null);

  if (!shown) return null;
  const onPointerDown = (e: React.PointerEvent) => {
    drag.current = { y: e.clientY, h: height };
    (e.target as HTMLElement).setPointerCapture(e.pointerId);
  };
  const onPointerMove = (e: React.PointerEvent) => {
    if (!drag.current) return;
    const max = Math.max(MIN_HEIGHT, window.innerHeight - 160);
    setHeight(Math.min(max, Math.max(MIN_HEIGHT, drag.current.h + drag.current.y - e.clientY)));
  };
  const onPointerUp = () => {
    if (!drag.current) return;
    drag.current = null;
    localStorage.setItem(HEIGHT_KEY, String(height));
  };
  return (
    <div className="term-dock" style={{ height }} data-testid="terminal-dock">
      <div
        className="term-resize"
        title="Drag to resize"
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
      />
      <Suspense fallback={<div className="term-panel term-loading">Loading terminal…</div>}>
        <TerminalPanel
          key={shown.id}
          terminal={shown}
          worktreeName={wt?.name ?? "worktree"}
          runner={runner}
          meId={meId}
          onClose={() => store.hide()}
          onEnd={() => store.end(shown.id)}
        />
      </Suspense>
    </div>
  );
}
