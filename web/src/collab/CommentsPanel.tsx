import { useEffect, useMemo, useRef, useState } from "react";
import type { Comment, CommentTarget, Member } from "../../../protocol/index.ts";
import { isCard, isZone } from "../board/cards.ts";
import type { BoardEntities } from "../board/entities.ts";
import { messageOf } from "../lib/api.ts";
import { ago, fullDate } from "../lib/format.ts";
import { useStore } from "../lib/store.ts";
import { useSessions } from "../sessions/context.ts";
import type { BoardSessions } from "../sessions/store.ts";
import { Avatar } from "../ui/Avatar.tsx";
import { confirm } from "../ui/confirm.tsx";
import { CloseIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import { useBoardCollab } from "./boardContext.ts";
import { CommentComposer } from "./Composer.tsx";
import { placeKey, type Thread } from "./comments.ts";
import type { Place } from "./commentsUi.ts";
import { commentTree, type PlaceNode } from "./commentTree.ts";
import { mentionParts } from "./mentionInput.ts";

export const REACTIONS = ["👍", "❤️", "🎉", "😄", "👀", "🚀"] as const;

const fail = (err: unknown) => notify(messageOf(err), "error");

/** The board's places by name, for the panel's outline and a new thread's heading. */
function usePlaces(entities: BoardEntities, sessions: BoardSessions) {
  const nodes = useStore(entities.nodes);
  const rows = useStore(sessions.rows);
  // Positions change on every drag frame; the outline needs only names and zones.
  const sig = nodes
    .map((n) =>
      isZone(n) ? `z${n.id}${n.data.zone.name}` : isCard(n) ? `c${n.id}${n.data.wt.name}${n.data.wt.zoneId}` : "",
    )
    .join("\n");
  // biome-ignore lint/correctness/useExhaustiveDependencies: sig stands for what the places read of nodes
  const places = useMemo(() => {
    const zones: { id: string; name: string }[] = [];
    const cards: { id: string; name: string; zoneId: string | null }[] = [];
    for (const n of nodes) {
      if (isZone(n)) zones.push({ id: n.id, name: n.data.zone.name });
      else if (isCard(n)) cards.push({ id: n.id, name: n.data.wt.name, zoneId: n.data.wt.zoneId });
    }
    return { zones, cards };
  }, [sig]);
  const list = useMemo(
    () => [...rows.values()].map((s) => ({ id: s.id, worktreeId: s.worktreeId, title: s.title })),
    [rows],
  );
  const nameOf = useMemo(() => {
    const names = new Map<string, string>();
    for (const z of places.zones) names.set(placeKey("zone", z.id), z.name);
    for (const c of places.cards) names.set(placeKey("worktree", c.id), c.name);
    for (const s of list) {
      const wt = names.get(placeKey("worktree", s.worktreeId));
      names.set(placeKey("session", s.id), `${s.title || "Untitled session"}${wt ? ` · ${wt}` : ""}`);
    }
    return (p: Pick<Comment, "target" | "targetId" | "x">) => {
      if (p.target === "board") return p.x !== null ? "a point on the canvas" : "the board";
      return names.get(placeKey(p.target, p.targetId)) ?? `a removed ${p.target}`;
    };
  }, [places, list]);
  return { ...places, sessions: list, nameOf };
}

/**
 * Every thread of the board as an outline: the board's own, then each zone with the worktrees in it
 * (and the worktrees in no zone), each worktree with its sessions' threads; open ones first and
 * resolved ones behind a filter; a new thread's draft on top, the thread a link or badge points at
 * in view. Every place can start another thread.
 */
export function CommentsPanel({ entities, sessions }: { entities: BoardEntities; sessions: BoardSessions }) {
  const { comments, ui } = useBoardCollab();
  const rows = useStore(comments.rows);
  const focus = useStore(ui.focus);
  const showResolved = useStore(ui.showResolved);
  const members = useStore(entities.members);
  const places = usePlaces(entities, sessions);
  const focusId = focus && "threadId" in focus ? focus.threadId : null;
  const tree = useMemo(
    () =>
      commentTree({
        comments: rows.values(),
        zones: places.zones,
        cards: places.cards,
        sessions: places.sessions,
        showResolved,
        keep: focusId,
      }),
    [rows, places, showResolved, focusId],
  );
  let resolvedCount = 0;
  for (const c of rows.values()) if (!c.threadId && c.resolvedAt) resolvedCount++;
  const draft = focus && "draft" in focus ? focus.draft : null;
  const empty = !tree.board && !tree.zones.length && !tree.loose.length && !tree.removed.length;
  const focusedComment = focus && "commentId" in focus ? (focus.commentId ?? null) : null;
  const at = { members, focusId, focusedComment };

  return (
    <aside className="side-panel comments-panel" data-testid="comments-panel" aria-label="Comments">
      <div className="side-panel-head">
        <h2>Comments</h2>
        <label className="small c-filter">
          <input
            type="checkbox"
            checked={showResolved}
            onChange={(e) => ui.showResolved.set(e.target.checked)}
            data-testid="comments-show-resolved"
          />
          Show resolved{resolvedCount ? ` (${resolvedCount})` : ""}
        </label>
        <button type="button" className="icon-btn" onClick={() => ui.close()} aria-label="Close comments">
          <CloseIcon />
        </button>
      </div>
      <div className="c-toolbar">
        <button
          type="button"
          className="btn btn-small"
          onClick={() => ui.startAt({ target: "board", targetId: null })}
          title="A thread on the board as a whole, pinned nowhere"
          data-testid="comments-new-board"
        >
          + New board thread
        </button>
        <span className="muted small">or pin one with the canvas's Comment tool</span>
      </div>
      <div className="c-scroll">
        {draft && <NewThread key={JSON.stringify(draft)} place={draft} members={members} nameOf={places.nameOf} />}
        {empty && !draft && (
          <p className="muted small c-empty">
            No {showResolved ? "" : "open "}threads. Start one here, from a card's or zone's comment button, a session's
            panel, or pin one on the canvas with the comment tool.
          </p>
        )}
        {tree.board && (
          <section className="c-group" data-testid="comments-group" data-target="board">
            <PlaceView node={tree.board} {...at} />
          </section>
        )}
        {tree.zones.length > 0 && (
          <section className="c-group" data-testid="comments-group" data-target="zone">
            <h3 className="c-group-title">Zones</h3>
            {tree.zones.map((n) => (
              <PlaceView key={n.key} node={n} {...at} />
            ))}
          </section>
        )}
        {tree.loose.length > 0 && (
          <section className="c-group" data-testid="comments-group" data-target="worktree">
            <h3 className="c-group-title">{tree.zones.length ? "Worktrees in no zone" : "Worktrees"}</h3>
            {tree.loose.map((n) => (
              <PlaceView key={n.key} node={n} {...at} />
            ))}
          </section>
        )}
        {tree.removed.length > 0 && (
          <section className="c-group" data-testid="comments-group" data-target="removed">
            <h3 className="c-group-title">No longer on the board</h3>
            {tree.removed.map((n) => (
              <PlaceView key={n.key} node={n} {...at} removed />
            ))}
          </section>
        )}
      </div>
    </aside>
  );
}

const PLACE_TITLE: Record<CommentTarget, string> = {
  board: "The board",
  zone: "Zone",
  worktree: "Worktree",
  session: "Session",
};

/** One place: its name (click to see it on the canvas), its open count, its threads, the places in it. */
function PlaceView({
  node,
  members,
  focusId,
  focusedComment,
  removed,
}: {
  node: PlaceNode;
  members: readonly Member[];
  focusId: string | null;
  focusedComment: string | null;
  removed?: boolean;
}) {
  const { ui, role } = useBoardCollab();
  const place = { target: node.target, targetId: node.targetId };
  const here = node.threads.filter((t) => !t.root.resolvedAt).length;
  return (
    <div
      className={`c-place c-place-${node.target}`}
      data-testid="comments-place"
      data-key={node.key}
      data-target={node.target}
    >
      <div className="c-place-head">
        <button
          type="button"
          className="c-place-name"
          onClick={() => (removed ? undefined : ui.revealPlace(place))}
          disabled={removed}
          title={removed ? undefined : "Show it on the canvas"}
          data-testid="comments-place-name"
        >
          {node.target !== "board" && <span className="c-place-kind">{PLACE_TITLE[node.target]}</span>}
          <span>{node.name}</span>
        </button>
        {node.open > 0 && (
          <span
            className="c-count"
            title={`${node.open} open thread${node.open === 1 ? "" : "s"}${node.open > here ? " here and in the places under it" : ""}`}
            data-testid="comments-place-count"
          >
            {node.open}
          </span>
        )}
        {!removed && role && (
          <button
            type="button"
            className="c-act c-place-new"
            onClick={() => ui.startAt(place)}
            title={`Start another thread on ${node.target === "board" ? "the board" : `this ${node.target}`}`}
            data-testid="comments-place-new"
          >
            + New thread
          </button>
        )}
      </div>
      {node.threads.map((t) => (
        <ThreadView
          key={t.root.id}
          thread={t}
          members={members}
          focused={t.root.id === focusId}
          focusedComment={t.root.id === focusId ? focusedComment : null}
        />
      ))}
      {node.children.length > 0 && (
        <div className="c-children">
          {node.children.map((n) => (
            <PlaceView key={n.key} node={n} members={members} focusId={focusId} focusedComment={focusedComment} />
          ))}
        </div>
      )}
    </div>
  );
}

function NewThread({
  place,
  members,
  nameOf,
}: {
  place: Place;
  members: readonly Member[];
  nameOf: (p: Pick<Comment, "target" | "targetId" | "x">) => string;
}) {
  const { comments, ui } = useBoardCollab();
  const [busy, setBusy] = useState(false);
  const where = nameOf({ target: place.target, targetId: place.targetId, x: place.x ?? null });
  return (
    <div className="c-thread c-new" data-testid="comment-new">
      <div className="small muted">
        New thread on <strong>{where}</strong>
        {place.messageId ? " (one message)" : ""}
      </div>
      <CommentComposer
        members={members}
        placeholder="Write a comment… @ to mention someone"
        submitLabel="Comment"
        autoFocus
        busy={busy}
        onCancel={() => ui.focus.set(null)}
        onSubmit={async (body) => {
          setBusy(true);
          try {
            const c = await comments.create({
              body,
              target: place.target,
              ...(place.targetId ? { targetId: place.targetId } : {}),
              ...(place.messageId ? { messageId: place.messageId } : {}),
              ...(place.x !== undefined && place.y !== undefined ? { x: place.x, y: place.y } : {}),
            });
            ui.showThread(c.id);
          } catch (err) {
            fail(err);
            throw err;
          } finally {
            setBusy(false);
          }
        }}
      />
    </div>
  );
}

export function ThreadView({
  thread,
  members,
  focused,
  focusedComment = null,
}: {
  thread: Thread;
  members: readonly Member[];
  focused: boolean;
  /** The one comment of it a link named. */
  focusedComment?: string | null;
}) {
  const { comments, ui, role, meId } = useBoardCollab();
  const { store: sessions } = useSessions();
  const ref = useRef<HTMLDivElement>(null);
  const [replying, setReplying] = useState(false);
  const [busy, setBusy] = useState(false);
  const { root, replies } = thread;
  const resolved = !!root.resolvedAt;
  useEffect(() => {
    if (!focused) return;
    const el = ref.current;
    el?.scrollIntoView({ block: "nearest", behavior: "smooth" });
    // Keyboard focus too, unless the person is typing somewhere (a reply box, a new thread).
    if (el && !document.activeElement?.closest("textarea, input")) el.focus({ preventScroll: true });
  }, [focused]);
  const canResolve = role === "owner" || role === "member";
  const pinned = root.target === "board" && root.x !== null;
  return (
    <div
      ref={ref}
      tabIndex={-1}
      className={`c-thread${focused ? " focused" : ""}${resolved ? " resolved" : ""}`}
      data-testid="comment-thread"
      data-thread-id={root.id}
      data-resolved={resolved}
      data-focused={focused}
    >
      {(pinned || root.messageId) && (
        <button
          type="button"
          className="c-where"
          onClick={() =>
            root.messageId && root.targetId
              ? sessions.openPanel(root.targetId, { messageId: root.messageId })
              : ui.showThread(root.id, { reveal: true })
          }
          data-testid="comment-where"
        >
          {root.messageId ? "On one message · show it" : "📍 Pinned on the canvas · show it"}
        </button>
      )}
      <CommentItem c={root} members={members} focused={focusedComment === root.id} />
      {replies.map((r) => (
        <CommentItem key={r.id} c={r} members={members} reply focused={focusedComment === r.id} />
      ))}
      <div className="c-thread-foot">
        {replying ? (
          <CommentComposer
            members={members}
            placeholder="Reply…"
            submitLabel="Reply"
            autoFocus
            busy={busy}
            testId="reply-input"
            onCancel={() => setReplying(false)}
            onSubmit={async (body) => {
              setBusy(true);
              try {
                await comments.create({ body, threadId: root.id });
                setReplying(false);
              } catch (err) {
                fail(err);
                throw err;
              } finally {
                setBusy(false);
              }
            }}
          />
        ) : (
          <>
            <button
              type="button"
              className="btn btn-small btn-ghost"
              onClick={() => setReplying(true)}
              data-testid="comment-reply"
            >
              Reply
            </button>
            {(canResolve || root.authorId === meId) && (
              <button
                type="button"
                className="btn btn-small btn-ghost"
                onClick={() => comments.setResolved(root.id, !resolved).catch(fail)}
                data-testid={resolved ? "comment-reopen" : "comment-resolve"}
              >
                {resolved ? "Reopen" : "✓ Resolve"}
              </button>
            )}
            {resolved && <span className="muted small">Resolved {ago(root.resolvedAt!)}</span>}
          </>
        )}
      </div>
    </div>
  );
}

/** A link to one comment: it opens the board at the comment's place, with its thread shown. */
export const commentLink = (c: Pick<Comment, "boardId" | "id">) =>
  `${location.origin}/b/${encodeURIComponent(c.boardId)}?comment=${encodeURIComponent(c.id)}`;

async function copyLink(c: Comment) {
  const url = commentLink(c);
  try {
    await navigator.clipboard.writeText(url);
    notify("Link to the comment copied.");
  } catch {
    notify(`The browser did not allow copying: the link is ${url}`);
  }
}

function CommentItem({
  c,
  members,
  reply,
  focused,
}: {
  c: Comment;
  members: readonly Member[];
  reply?: boolean;
  focused?: boolean;
}) {
  const { comments, meId, role } = useBoardCollab();
  const [editing, setEditing] = useState(false);
  const [picking, setPicking] = useState(false);
  const mine = c.authorId === meId;
  const canDelete = mine || role === "owner";
  const author = members.find((m) => m.userId === c.authorId);
  const names = useMemo(
    () => members.filter((m) => c.mentions.includes(m.userId)).map((m) => m.name),
    [members, c.mentions],
  );
  const remove = async () => {
    const ok = await confirm({
      title: reply ? "Delete this reply?" : "Delete this thread?",
      body: reply ? "Everyone on the board sees it go." : "Its replies go with it, for everyone on the board.",
      confirmLabel: "Delete",
    });
    if (ok) comments.delete(c.id).catch(fail);
  };
  const toggle = (emoji: string) => {
    const on = !c.reactions.find((r) => r.emoji === emoji)?.userIds.includes(meId);
    setPicking(false);
    comments.react(c.id, emoji, on).catch(fail);
  };
  return (
    <div
      className={`c-item${reply ? " reply" : ""}${focused ? " linked" : ""}`}
      data-testid="comment"
      data-comment-id={c.id}
      data-mine={mine}
    >
      <Avatar name={c.authorName} color={author?.color ?? "#64748b"} size={24} />
      <div className="c-main">
        <div className="c-meta">
          <strong>{c.authorName}</strong>
          <span className="muted small" title={fullDate(c.createdAt)}>
            {ago(c.createdAt)}
            {c.editedAt ? " · edited" : ""}
          </span>
          <span className="c-actions">
            <button
              type="button"
              className="c-act"
              title="React"
              aria-label="React"
              onClick={() => setPicking((p) => !p)}
              data-testid="comment-react"
            >
              ☺
            </button>
            <button
              type="button"
              className="c-act"
              title="Copy a link that opens the board here"
              aria-label="Copy link"
              onClick={() => void copyLink(c)}
              data-testid="comment-copy-link"
            >
              Link
            </button>
            {mine && (
              <button type="button" className="c-act" onClick={() => setEditing(true)} data-testid="comment-edit">
                Edit
              </button>
            )}
            {canDelete && (
              <button type="button" className="c-act danger" onClick={() => void remove()} data-testid="comment-delete">
                Delete
              </button>
            )}
          </span>
        </div>
        {editing ? (
          <CommentComposer
            members={members}
            initial={c.body}
            placeholder="Edit your comment"
            submitLabel="Save"
            autoFocus
            testId="comment-edit-input"
            onCancel={() => setEditing(false)}
            onSubmit={async (body) => {
              if (body === c.body) return setEditing(false);
              try {
                await comments.edit(c.id, body);
                setEditing(false);
              } catch (err) {
                fail(err);
                throw err;
              }
            }}
          />
        ) : (
          <div className="c-body" data-testid="comment-body">
            {mentionParts(c.body, names).map((p, i) =>
              p.mention ? (
                // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one body, in order
                <span key={i} className="c-mention">
                  {p.text}
                </span>
              ) : (
                p.text
              ),
            )}
          </div>
        )}
        {picking && (
          <div className="c-palette" data-testid="reaction-palette">
            {REACTIONS.map((e) => (
              <button key={e} type="button" onClick={() => toggle(e)} data-testid="reaction-pick" data-emoji={e}>
                {e}
              </button>
            ))}
          </div>
        )}
        {c.reactions.length > 0 && (
          <div className="c-reactions">
            {c.reactions
              .filter((r) => r.userIds.length > 0)
              .map((r) => {
                const who = r.userIds.map((id) => members.find((m) => m.userId === id)?.name ?? "someone");
                return (
                  <button
                    key={r.emoji}
                    type="button"
                    className={`c-reaction${r.userIds.includes(meId) ? " mine" : ""}`}
                    title={who.join(", ")}
                    onClick={() => toggle(r.emoji)}
                    data-testid="reaction"
                    data-emoji={r.emoji}
                  >
                    {r.emoji} <span>{r.userIds.length}</span>
                  </button>
                );
              })}
          </div>
        )}
      </div>
    </div>
  );
}
