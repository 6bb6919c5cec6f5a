import { Panel, useStore as useFlowStore, useReactFlow, ViewportPortal } from "@xyflow/react";
import { memo, useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import { type BoardNode, CARD, isCard, isZone } from "../board/cards.ts";
import type { BoardEntities } from "../board/entities.ts";
import type { PresenceStore } from "../board/presence.ts";
import { useStore } from "../lib/store.ts";
import type { BoardSessions } from "../sessions/store.ts";
import { CommentIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import { useBoardCollab } from "./boardContext.ts";
import { pinsOf, pinTransform } from "./pins.ts";

/**
 * What the collaboration features draw on the canvas and do to its view, apart from the cards
 * (which stay memoized): comment pins at their flow points, the comment tool's click-to-pin, the
 * move to a linked thread's place, and following a teammate's viewport.
 */
export function CollabLayer({
  entities,
  sessions,
  presence,
}: {
  entities: BoardEntities;
  sessions: BoardSessions;
  presence: PresenceStore;
}) {
  return (
    <>
      <Pins />
      <Placing />
      <Reveal entities={entities} sessions={sessions} />
      <Following presence={presence} />
    </>
  );
}

/** Pins re-render on a comment change or a zoom, never the cards. */
const Pins = memo(function Pins() {
  const { comments, ui } = useBoardCollab();
  const rows = useStore(comments.rows);
  const showResolved = useStore(ui.showResolved);
  const focus = useStore(ui.focus);
  const zoom = useFlowStore((s) => s.transform[2]);
  const pins = useMemo(() => pinsOf(rows.values(), showResolved), [rows, showResolved]);
  const focusId = focus && "threadId" in focus ? focus.threadId : null;
  const draft = focus && "draft" in focus && focus.draft.x !== undefined ? focus.draft : null;
  return (
    <ViewportPortal>
      <div className="comment-pins">
        {pins.map((p) => (
          <button
            key={p.threadId}
            type="button"
            className={`comment-pin nodrag${p.resolved ? " resolved" : ""}${p.threadId === focusId ? " focused" : ""}`}
            style={{ transform: pinTransform(p, zoom) }}
            title={`${p.authorName}: ${p.body.length > 120 ? `${p.body.slice(0, 120)}…` : p.body}`}
            onClick={() => ui.showThread(p.threadId)}
            data-testid="comment-pin"
            data-thread-id={p.threadId}
            data-x={p.x}
            data-y={p.y}
          >
            <span className="comment-pin-dot">{p.replies > 0 ? p.replies + 1 : <CommentIcon size={14} />}</span>
          </button>
        ))}
        {draft && (
          <div
            className="comment-pin draft"
            style={{ transform: pinTransform({ x: draft.x!, y: draft.y! }, zoom) }}
            data-testid="comment-pin-draft"
          >
            <span className="comment-pin-dot">+</span>
          </div>
        )}
      </div>
    </ViewportPortal>
  );
});

/** The comment tool: the next click on the canvas starts a thread pinned there. */
function Placing() {
  const { ui } = useBoardCollab();
  const placing = useStore(ui.placing);
  const flow = useReactFlow<BoardNode>();
  useEffect(() => {
    if (!placing) return;
    const esc = (e: KeyboardEvent) => e.key === "Escape" && ui.placing.set(false);
    addEventListener("keydown", esc);
    return () => removeEventListener("keydown", esc);
  }, [placing, ui]);
  if (!placing) return null;
  return (
    <>
      <button
        type="button"
        className="comment-placing"
        aria-label="Pin a comment here"
        onClick={(e) => {
          const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
          ui.startAt({ target: "board", targetId: null, x: Math.round(p.x), y: Math.round(p.y) });
        }}
        data-testid="comment-placing"
      />
      <Panel position="top-center" className="canvas-banner">
        Click where the comment goes · Esc to cancel
      </Panel>
    </>
  );
}

/** A link or a click in the panel asks to see a thread's place: centre the view on it. */
function Reveal({ entities, sessions }: { entities: BoardEntities; sessions: BoardSessions }) {
  const { comments, ui } = useBoardCollab();
  const reveal = useStore(ui.reveal);
  const flow = useReactFlow<BoardNode>();
  useEffect(() => {
    if (!reveal) return;
    const c = comments.rows.get().get(reveal.threadId);
    if (!c) return;
    const centerOf = (id: string) => {
      const n = entities.node(id);
      if (!n) return null;
      if (isCard(n)) return { x: n.position.x + CARD.width / 2, y: n.position.y + CARD.height / 2 };
      if (isZone(n)) {
        const z = n.data.zone;
        return { x: z.x + z.width / 2, y: z.y + z.height / 2 };
      }
      return null;
    };
    let at: { x: number; y: number } | null = null;
    if (c.target === "board" && c.x !== null && c.y !== null) at = { x: c.x, y: c.y };
    else if (c.target === "zone" || c.target === "worktree") at = c.targetId ? centerOf(c.targetId) : null;
    else if (c.target === "session" && c.targetId) {
      const s = sessions.get(c.targetId);
      if (s) at = centerOf(s.worktreeId);
      sessions.openPanel(c.targetId);
    }
    if (at) void flow.setCenter(at.x, at.y, { zoom: Math.max(flow.getZoom(), 0.9), duration: 400 });
  }, [reveal, comments, entities, sessions, flow]);
  return null;
}

/** Following someone: their viewport, live and eased; a banner says how to stop. */
function Following({ presence }: { presence: PresenceStore }) {
  const { follow } = useBoardCollab();
  const leader = useStore(follow.leader);
  const flow = useReactFlow<BoardNode>();
  const last = useRef<string>("");
  const peers = useSyncExternalStore(presence.subscribeCursors, presence.others);
  const people = useSyncExternalStore(presence.subscribeRoster, presence.people);
  const theirs = leader ? peers.find((p) => p.userId === leader.userId && p.viewport) : undefined;
  const here = !leader || people.some((p) => p.userId === leader.userId);

  useEffect(() => {
    if (leader && !here) {
      notify(`${leader.name} left the board: no longer following.`);
      follow.stop();
    }
  }, [leader, here, follow]);

  useEffect(() => {
    if (!leader) {
      last.current = "";
      return;
    }
    const esc = (e: KeyboardEvent) => e.key === "Escape" && follow.stop();
    // My own hand on the canvas (a wheel, a drag on it) takes the view back, even mid-animation.
    const mine = (e: Event) => {
      if ((e.target as Element | null)?.closest?.(".react-flow__pane, .react-flow__node")) follow.stop();
    };
    addEventListener("keydown", esc);
    addEventListener("wheel", mine, { capture: true, passive: true });
    addEventListener("pointerdown", mine, { capture: true });
    return () => {
      removeEventListener("keydown", esc);
      removeEventListener("wheel", mine, { capture: true });
      removeEventListener("pointerdown", mine, { capture: true });
    };
  }, [leader, follow]);

  const v = theirs?.viewport;
  useEffect(() => {
    if (!v) return;
    const key = `${v.x},${v.y},${v.zoom}`;
    if (key === last.current) return;
    const first = last.current === "";
    last.current = key;
    void flow.setViewport(v, { duration: first ? 400 : 180 });
  }, [v, flow]);

  if (!leader) return null;
  return (
    <Panel position="top-center" className="canvas-banner follow-banner" data-testid="follow-banner">
      <span>
        Following <strong>{leader.name}</strong> — press Esc or pan to stop
      </span>
      <button type="button" className="btn btn-small" onClick={() => follow.stop()} data-testid="follow-stop">
        Stop
      </button>
    </Panel>
  );
}
