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
import type { Place } from "./commentsUi.ts";
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

const PLACE_ZOOM = 0.9;

/**
 * A link or a click in the panel asks to see a place: centre the view on it (a pin, a zone, a card,
 * a session's card), opening a session's panel at the message. A link may come before the cards or
 * sessions are read: it waits for the place to be known.
 */
function Reveal({ entities, sessions }: { entities: BoardEntities; sessions: BoardSessions }) {
  const { comments, ui } = useBoardCollab();
  const reveal = useStore(ui.reveal);
  const flow = useReactFlow<BoardNode>();
  useEffect(() => {
    if (!reveal) return;
    let done = false;
    let frame = 0;
    const placeOf = (): Place | null => {
      if ("place" in reveal) return reveal.place;
      const c = comments.rows.get().get(reveal.threadId);
      if (!c) return null;
      return {
        target: c.target,
        targetId: c.targetId,
        ...(c.messageId ? { messageId: c.messageId } : {}),
        ...(c.x !== null && c.y !== null ? { x: c.x, y: c.y } : {}),
      };
    };
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
    const attempt = () => {
      if (done) return;
      const p = placeOf();
      if (!p) return;
      let at: { x: number; y: number } | null = null;
      if (p.target === "board") {
        // An unpinned board thread is nowhere in particular: the panel showing it is enough.
        if (p.x === undefined || p.y === undefined) {
          done = true;
          return;
        }
        at = { x: p.x, y: p.y };
      } else if (p.target === "session") {
        const s = p.targetId ? sessions.get(p.targetId) : undefined;
        at = s ? centerOf(s.worktreeId) : null;
      } else at = p.targetId ? centerOf(p.targetId) : null;
      if (!at) return;
      done = true;
      if (p.target === "session" && p.targetId) {
        sessions.openPanel(p.targetId, p.messageId ? { messageId: p.messageId } : {});
      }
      // The panels opening beside it narrow the canvas: centre once that layout is in (two frames on).
      const { x, y } = at;
      frame = requestAnimationFrame(() => {
        frame = requestAnimationFrame(() => {
          ui.tookView = true;
          void flow.setCenter(x, y, { zoom: Math.max(flow.getZoom(), PLACE_ZOOM), duration: 300 });
        });
      });
    };
    const offs = [
      entities.nodes.subscribe(attempt),
      sessions.rows.subscribe(attempt),
      comments.rows.subscribe(attempt),
    ];
    attempt();
    return () => {
      done = true;
      cancelAnimationFrame(frame);
      for (const off of offs) off();
    };
  }, [reveal, comments, ui, entities, sessions, flow]);
  return null;
}

/** How a followed view eases to where the leader's is: ease-out cubic. */
const easeOut = (t: number) => 1 - (1 - t) ** 3;

/**
 * Following someone: their viewport, live and eased; a banner says how to stop. The easing is ours,
 * a frame at a time through `follow.steer`, so the canvas knows these moves from the person's own.
 */
function Following({ presence }: { presence: PresenceStore }) {
  const { follow } = useBoardCollab();
  const leader = useStore(follow.leader);
  const flow = useReactFlow<BoardNode>();
  const last = useRef<string>("");
  const frame = useRef(0);
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
    addEventListener("keydown", esc);
    return () => {
      removeEventListener("keydown", esc);
      cancelAnimationFrame(frame.current);
    };
  }, [leader, follow]);

  const v = theirs?.viewport;
  useEffect(() => {
    if (!v) return;
    const key = `${v.x},${v.y},${v.zoom}`;
    if (key === last.current) return;
    const first = last.current === "";
    last.current = key;
    cancelAnimationFrame(frame.current);
    const from = flow.getViewport();
    const duration = first ? 400 : 180;
    const t0 = performance.now();
    const step = (now: number) => {
      const t = Math.min(1, (now - t0) / duration);
      const k = easeOut(t);
      follow.steer(() => {
        void flow.setViewport({
          x: from.x + (v.x - from.x) * k,
          y: from.y + (v.y - from.y) * k,
          zoom: from.zoom + (v.zoom - from.zoom) * k,
        });
      });
      if (t < 1) frame.current = requestAnimationFrame(step);
    };
    frame.current = requestAnimationFrame(step);
  }, [v, flow, follow]);

  useEffect(() => () => cancelAnimationFrame(frame.current), []);

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
