import {
  applyNodeChanges,
  ControlButton,
  Controls,
  EdgeLabelRenderer,
  getViewportForBounds,
  type NodeChange,
  type OnNodeDrag,
  Panel,
  ReactFlow,
  useReactFlow,
  useStoreApi,
} from "@xyflow/react";
import { type PointerEvent, type MouseEvent as ReactMouseEvent, useCallback, useEffect, useRef, useState } from "react";
import { useBoardCollab } from "../collab/boardContext.ts";
import { CollabLayer } from "../collab/CollabLayer.tsx";
import { messageOf } from "../lib/api.ts";
import { countCanvasRender } from "../lib/renderCount.ts";
import { type Store, useStore, useStoreState } from "../lib/store.ts";
import { useSessions } from "../sessions/context.ts";
import { confirm } from "../ui/confirm.tsx";
import { CommentIcon, FitIcon, GitIcon, PlusIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import { type BoardActions, ZONE_SIZE } from "./actions.ts";
import { BoardSearch } from "./BoardSearch.tsx";
import { Cursors } from "./Cursors.tsx";
import { type BoardNode, CARD, carryCards, isCard, isZone, placeCard, type ZoneNode } from "./cards.ts";
import type { BoardEntities } from "./entities.ts";
import { Minimap } from "./Minimap.tsx";
import { boardBounds, CardOverview, cardAt as cardUnder, useCulledNodes } from "./overview.tsx";
import { useRemoteDrags } from "./remoteDrags.ts";
import type { RoomConnection } from "./room.ts";
import { WorktreeCard } from "./WorktreeCard.tsx";
import { ZoneNodeView } from "./ZoneNode.tsx";

const GAP = 40;

/** Defined once: React Flow re-mounts every node when this object changes identity. */
const nodeTypes = { zone: ZoneNodeView, worktree: WorktreeCard };

/** The first spot at or right of `want` where a new zone overlaps no other, so added zones never stack. */
function freeSpot(zones: ZoneNode[], want: { x: number; y: number }) {
  let { x } = want;
  const { y } = want;
  for (let tries = 0; tries < 100; tries++) {
    const hit = zones.find(
      (n) =>
        x < n.position.x + (n.width ?? 0) + GAP &&
        x + ZONE_SIZE.width + GAP > n.position.x &&
        y < n.position.y + (n.height ?? 0) + GAP &&
        y + ZONE_SIZE.height + GAP > n.position.y,
    );
    if (!hit) break;
    x = hit.position.x + (hit.width ?? 0) + GAP;
  }
  return { x, y };
}

const MULTI_SELECT_KEYS = ["Shift", "Meta", "Control"];

/** Delete/Backspace on the board: zones go at once (their cards stay), cards after one confirm. */
async function removeSelected(picked: BoardNode[], actions: BoardActions) {
  const cards = picked.filter(isCard);
  if (cards.length > 0) {
    const ok = await confirm({
      title: cards.length === 1 ? `Delete worktree “${cards[0]!.data.wt.name}”?` : `Delete ${cards.length} worktrees?`,
      body: "Each folder is removed on its runner and the card goes for everyone; branches are kept. A worktree with uncommitted changes is kept and says so.",
      confirmLabel: cards.length === 1 ? "Delete worktree" : `Delete ${cards.length} worktrees`,
    });
    if (!ok) return;
    for (const c of cards) {
      actions
        .deleteWorktree(c.id, { force: false, deleteBranch: false })
        .catch((err) => notify(`Could not delete “${c.data.wt.name}”: ${messageOf(err)}`, "error"));
    }
  }
  for (const z of picked.filter(isZone)) void actions.removeZone(z.id);
}

const FIT_PADDING = 0.12;
const MOVE_SETTLE_MS = 160;
const MIN_ZOOM = 0.03;
/** How often a moving view is told to the room, so a follower's view moves with it. */
const VIEWPORT_EVERY_MS = 100;

type Menu = { screen: { x: number; y: number }; flow: { x: number; y: number } };

export function Canvas({
  entities,
  cardsLoading,
  room,
  canEdit,
  actions,
  ready,
  onCreateWorktree,
}: {
  /** The one view of the node list: the page around it does not re-render for the canvas. */
  entities: BoardEntities;
  /** Cards read so far on the first load; null once every page is in (tests and the board benchmark wait for it). */
  cardsLoading: Store<number | null>;
  room: RoomConnection;
  canEdit: boolean;
  actions: BoardActions;
  ready: boolean;
  /** `at` is the new card's top-left in canvas coordinates. */
  onCreateWorktree: (at: { x: number; y: number }, placedBy: "pointer" | "view") => void;
}) {
  countCanvasRender();
  const nodes = useStoreState(entities.nodes);
  const { setNodes } = entities;
  const loaded = useStoreState(cardsLoading) === null;
  const flow = useReactFlow<BoardNode>();
  const store = useStoreApi<BoardNode>();
  const { flowNodes, overview } = useCulledNodes(nodes);
  const wrapper = useRef<HTMLDivElement>(null);
  /** Last pointer position on screen, so a pan or zoom under a still pointer moves our cursor too. */
  const pointer = useRef<{ x: number; y: number } | null>(null);
  const [menu, setMenu] = useState<Menu | null>(null);
  const nodesRef = useRef(nodes);
  nodesRef.current = nodes;
  const collab = useBoardCollab();
  const { store: sessions } = useSessions();
  const placing = useStore(collab.ui.placing);
  const viewportSent = useRef(0);

  const onNodesChange = useCallback(
    (changes: NodeChange<BoardNode>[]) => setNodes((ns) => carryCards(ns, applyNodeChanges(changes, ns), changes)),
    [setNodes],
  );

  useRemoteDrags(room.presence, entities.nodes);

  /** Everyone else sees the drag as it happens (through room presence, throttled like the cursor). */
  const onNodeDrag: OnNodeDrag<BoardNode> = useCallback(
    (_e, _node, dragged) =>
      room.moveDrag(
        dragged.slice(0, 30).map((n) => ({ id: n.id, x: Math.round(n.position.x), y: Math.round(n.position.y) })),
      ),
    [room],
  );

  const onNodeDragStop: OnNodeDrag<BoardNode> = useCallback(
    (_e, _node, dragged) => {
      room.moveDrag(null);
      // Placed one after another, each seeing where the ones before it went; one undo step for all.
      let work = nodesRef.current;
      const gesture = actions.newGesture();
      const movedZones = new Set(dragged.filter((n) => n.type === "zone").map((n) => n.id));
      for (const n of dragged) {
        const x = Math.round(n.position.x);
        const y = Math.round(n.position.y);
        if (n.type === "zone") {
          if (x !== n.data.zone.x || y !== n.data.zone.y) void actions.patchZone(n.id, { x, y }, { gesture });
          continue;
        }
        const wt = n.data.wt;
        // Carried along by its own zone, which was dragged with it: the zone's move covers it.
        if (wt.zoneId && movedZones.has(wt.zoneId)) continue;
        // A card belongs to the zone its center was dropped in (or to none), in a free slot there.
        const spot = placeCard(work, { x, y }, n.id);
        work = work.map((m) => (m.id === n.id ? { ...m, position: { x: spot.x, y: spot.y } } : m));
        if (spot.growZone) {
          const { zoneId, height } = spot.growZone;
          work = work.map((m) => (m.id === zoneId ? { ...m, height } : m));
          void actions.patchZone(zoneId, { height }, { gesture });
        }
        if (spot.x !== wt.x || spot.y !== wt.y || spot.zoneId !== wt.zoneId) {
          void actions.patchWorktree(n.id, { x: spot.x, y: spot.y, zoneId: spot.zoneId }, { gesture });
        }
        // Snapped: show it in its slot now (a drop in place sends nothing, but may still snap back).
        else if (n.position.x !== spot.x || n.position.y !== spot.y) {
          setNodes((ns) => ns.map((m) => (m.id === n.id ? { ...m, position: { x: spot.x, y: spot.y } } : m)));
        }
      }
    },
    [actions, setNodes, room],
  );

  const sendPointer = useCallback(() => {
    const p = pointer.current;
    room.moveCursor(p ? flow.screenToFlowPosition(p) : null);
  }, [flow, room]);

  const onPointerMove = useCallback(
    (e: PointerEvent) => {
      pointer.current = { x: e.clientX, y: e.clientY };
      sendPointer();
    },
    [sendPointer],
  );

  const onPointerLeave = useCallback(() => {
    pointer.current = null;
    room.moveCursor(null);
  }, [room]);

  // Mark the canvas as moving while the viewport changes (any cause: wheel, pinch, drag, code), and
  // for a moment after. React Flow's own move start/end events do not pair up across gestures.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = () => wrapper.current?.classList.remove("moving");
    const unsubscribe = store.subscribe((s, prev) => {
      if (s.transform === prev.transform) return;
      if (!timer) wrapper.current?.classList.add("moving");
      clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        settle();
      }, MOVE_SETTLE_MS);
    });
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  }, [store]);

  /** Frame the whole board (React Flow's own fit sees only the nodes near the view). */
  const fitAll = useCallback(
    (duration = 0) => {
      const bounds = boardBounds(nodesRef.current);
      const rect = wrapper.current?.getBoundingClientRect();
      if (!bounds || !rect?.width) return;
      const v = getViewportForBounds(bounds, rect.width, rect.height, MIN_ZOOM, 1, FIT_PADDING);
      void flow.setViewport(v, { duration });
    },
    [flow],
  );

  // The first load arrives after mount: frame it once, again when the last page of cards is in if
  // the person has not moved meanwhile, then leave the view to them.
  const framed = useRef<"no" | "auto" | "user">("no");
  useEffect(() => {
    if (!ready || framed.current === "user") return;
    // Following someone, or shown a linked comment's place: the view is spoken for.
    if (collab.follow.leader.get() || collab.ui.tookView) {
      framed.current = "user";
      return;
    }
    // An empty board has nothing to frame; the first zone someone adds must not move the view.
    if (!nodes.length) {
      if (loaded) framed.current = "user";
      return;
    }
    if (framed.current === "no" || loaded) fitAll();
    framed.current = loaded ? "user" : "auto";
  }, [ready, loaded, nodes.length, fitAll, collab]);

  const viewCenter = () => {
    const rect = wrapper.current!.getBoundingClientRect();
    return flow.screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 });
  };

  const addZone = async (center = viewCenter()) => {
    const zones = nodes.filter(isZone);
    const want = { x: center.x - ZONE_SIZE.width / 2, y: center.y - ZONE_SIZE.height / 2 };
    const at = freeSpot(zones, want);
    const zone = await actions.addZone(at, zones.length);
    // A zone that had to go beside the others is brought into view, at the current zoom.
    if (zone && at.x !== want.x) {
      void flow.setCenter(at.x + ZONE_SIZE.width / 2, at.y + ZONE_SIZE.height / 2, {
        zoom: flow.getZoom(),
        duration: 300,
      });
    }
  };

  const cardAt = (p: { x: number; y: number }) => ({
    x: Math.round(p.x - CARD.width / 2),
    y: Math.round(p.y - CARD.height / 2),
  });

  const onPaneContextMenu = useCallback(
    (e: ReactMouseEvent | MouseEvent) => {
      if (!canEdit) return;
      e.preventDefault();
      const screen = { x: e.clientX, y: e.clientY };
      setMenu({ screen, flow: flow.screenToFlowPosition(screen) });
    },
    [canEdit, flow],
  );

  /** Zoomed out, cards are pixels on a canvas: a click on one brings it close enough to use. */
  const zoomedToCard = useRef(Number.NEGATIVE_INFINITY);
  const zoomToCardAt = (e: ReactMouseEvent): boolean => {
    if (!overview || e.detail > 1) return false;
    const hit = cardUnder(nodesRef.current, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
    if (!hit) return false;
    zoomedToCard.current = performance.now();
    void flow.setCenter(hit.position.x + CARD.width / 2, hit.position.y + CARD.height / 2, { zoom: 1, duration: 400 });
    return true;
  };

  // Double-click on empty canvas, or on a zone's body (not its name), makes a worktree right there.
  const onDoubleClick = (e: ReactMouseEvent) => {
    // The first click of this double-click already went to a card on the overview.
    if (!canEdit || performance.now() - zoomedToCard.current < 600) return;
    const t = e.target as HTMLElement;
    if (!t.classList.contains("react-flow__pane") && !t.classList.contains("zone")) return;
    onCreateWorktree(cardAt(flow.screenToFlowPosition({ x: e.clientX, y: e.clientY })), "pointer");
  };
  const onPaneClick = (e: ReactMouseEvent) => {
    setMenu(null);
    if (zoomToCardAt(e)) return;
    if (e.detail === 2) onDoubleClick(e);
  };
  useEffect(() => {
    if (!menu) return;
    const close = (e: Event) => {
      if (e instanceof KeyboardEvent ? e.key === "Escape" : !(e.target as Element).closest(".context-menu"))
        setMenu(null);
    };
    addEventListener("keydown", close);
    addEventListener("pointerdown", close);
    return () => {
      removeEventListener("keydown", close);
      removeEventListener("pointerdown", close);
    };
  }, [menu]);

  /** Select exactly these nodes (search hits), as a click would. */
  const select = useCallback(
    (ids: string[]) => {
      const want = new Set(ids);
      setNodes((ns) => ns.map((n) => (!!n.selected === want.has(n.id) ? n : { ...n, selected: want.has(n.id) })));
    },
    [setNodes],
  );

  // Keys on the board: Delete/Backspace removes what is selected (cards after a confirm), and
  // Ctrl/Cmd+Z undoes this tab's last move or zone edit. Not while typing in a field or a dialog.
  useEffect(() => {
    if (!canEdit) return;
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t?.closest?.("input, textarea, select, [contenteditable='true'], dialog")) return;
      if (e.key.toLowerCase() === "z" && (e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey) {
        e.preventDefault();
        void actions.undo();
        return;
      }
      if (e.key !== "Delete" && e.key !== "Backspace") return;
      const picked = nodesRef.current.filter((n) => n.selected);
      if (picked.length === 0) return;
      e.preventDefault();
      void removeSelected(picked, actions);
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [canEdit, actions]);

  const bounds = wrapper.current?.getBoundingClientRect();

  return (
    <div
      className="canvas"
      ref={wrapper}
      onPointerMove={onPointerMove}
      onPointerLeave={onPointerLeave}
      data-testid="canvas"
      data-loaded={ready && loaded}
      data-overview={overview}
    >
      <ReactFlow<BoardNode>
        nodes={flowNodes}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onNodeDrag={onNodeDrag}
        onNodeDragStop={onNodeDragStop}
        onMove={(_e, viewport) => {
          sendPointer();
          // A follower sees the view move while it moves, not only where it stopped.
          const now = performance.now();
          if (now - viewportSent.current >= VIEWPORT_EVERY_MS) {
            viewportSent.current = now;
            room.sendPresence({ viewport });
          }
        }}
        onMoveStart={(e) => {
          setMenu(null);
          // A person's own pan or zoom carries an event: from then on, the view is theirs.
          if (e) framed.current = "user";
          // Any move but the follow's own stops following: a wheel, pinch or drag (with an event),
          // and those without one that are still the person's: the zoom buttons, the minimap, a
          // card focused from the keyboard, a thread revealed.
          if (!collab.follow.steering) collab.follow.stop();
        }}
        onMoveEnd={(_e, viewport) => {
          room.sendPresence({ viewport });
        }}
        onPaneContextMenu={onPaneContextMenu}
        onNodeContextMenu={(e, n) => n.type === "zone" && onPaneContextMenu(e)}
        onPaneClick={onPaneClick}
        onNodeClick={(e, n) => n.type === "zone" && zoomToCardAt(e)}
        onNodeDoubleClick={(e, n) => n.type === "zone" && onDoubleClick(e)}
        nodesDraggable={canEdit}
        nodesConnectable={false}
        // Our own Delete handling (a confirm for cards, a write per item); shift-click adds to the
        // selection and shift-drag on empty canvas draws a selection box.
        deleteKeyCode={null}
        multiSelectionKeyCode={MULTI_SELECT_KEYS}
        selectionKeyCode="Shift"
        zoomOnDoubleClick={false}
        // Wheels and trackpads pan, pinch (or ctrl/cmd + wheel) zooms: the way whiteboards work, and
        // the only way to move over a board whose zones cover the empty canvas you would drag.
        panOnScroll
        onlyRenderVisibleElements
        minZoom={MIN_ZOOM}
        maxZoom={2.5}
        proOptions={{ hideAttribution: true }}
      >
        {/* The dot grid lives in the viewport layer (under the nodes), so a pan moves it for free
            instead of repainting a full-screen pattern every frame as React Flow's <Background> does. */}
        <EdgeLabelRenderer>
          <div className="dot-grid" />
        </EdgeLabelRenderer>
        <Panel position="bottom-right">
          <Minimap nodes={nodes} />
        </Panel>
        <Controls showInteractive={false} showFitView={false}>
          <ControlButton onClick={() => fitAll(300)} title="Fit the whole board" aria-label="Fit the whole board">
            <FitIcon />
          </ControlButton>
        </Controls>
        <CardOverview nodes={nodes} active={overview} />
        <Cursors presence={room.presence} />
        <CollabLayer entities={entities} sessions={sessions} presence={room.presence} />
        <Panel position="top-right">
          <BoardSearch nodes={nodes} select={select} />
        </Panel>
        <Panel position="top-left" className="canvas-tools">
          {canEdit && (
            <>
              <button
                type="button"
                className="btn btn-floating btn-primary-soft"
                onClick={() => onCreateWorktree(cardAt(viewCenter()), "view")}
                title="New worktree (or double-click the canvas)"
                data-testid="new-worktree"
              >
                <GitIcon /> New worktree
              </button>
              <button type="button" className="btn btn-floating" onClick={() => void addZone()} data-testid="add-zone">
                <PlusIcon /> Add zone
              </button>
            </>
          )}
          <button
            type="button"
            className={`btn btn-floating${placing ? " active" : ""}`}
            onClick={() => collab.ui.placing.set(!placing)}
            aria-pressed={placing}
            title="Comment: click a point on the canvas to pin a thread there"
            data-testid="comment-tool"
          >
            <CommentIcon size={13} /> Comment
          </button>
        </Panel>
        {ready && nodes.length === 0 && (
          <Panel position="top-center" className="canvas-empty">
            {canEdit
              ? "An empty board. Add zones to group work, and double-click anywhere to make a worktree there."
              : "Nothing on this board yet."}
          </Panel>
        )}
      </ReactFlow>
      {menu && bounds && (
        <div
          className="context-menu"
          role="menu"
          style={{ left: menu.screen.x - bounds.left, top: menu.screen.y - bounds.top }}
          data-testid="canvas-menu"
        >
          <button
            type="button"
            role="menuitem"
            onClick={() => {
              setMenu(null);
              onCreateWorktree(cardAt(menu.flow), "pointer");
            }}
            data-testid="menu-new-worktree"
          >
            New worktree here
          </button>
          <button
            type="button"
            role="menuitem"
            onClick={() => {
              setMenu(null);
              void addZone(menu.flow);
            }}
          >
            New zone here
          </button>
        </div>
      )}
    </div>
  );
}
