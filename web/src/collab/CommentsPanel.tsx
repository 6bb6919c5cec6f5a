import { useEffect, useMemo, useRef, useState } from "react";
import type { Comment, CommentTarget, Member } from "../../../protocol/index.ts";
import { isCard, isZone } from "../board/cards.ts";
import type { BoardEntities } from "../board/entities.ts";
import { messageOf } from "../lib/api.ts";
import { ago, fullDate } from "../lib/format.ts";
import { useStore } from "../lib/store.ts";
import type { BoardSessions } from "../sessions/store.ts";
import { Avatar } from "../ui/Avatar.tsx";
import { confirm } from "../ui/confirm.tsx";
import { CloseIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import { useBoardCollab } from "./boardContext.ts";
import { CommentComposer } from "./Composer.tsx";
import { keyOf, placeKey, type Thread, threadsOf } from "./comments.ts";
import type { Place } from "./commentsUi.ts";
import { mentionParts } from "./mentionInput.ts";

export const REACTIONS = ["👍", "❤️", "🎉", "😄", "👀", "🚀"] as const;

const GROUPS: { target: CommentTarget; title: string }[] = [
  { target: "board", title: "Board" },
  { target: "zone", title: "Zones" },
  { target: "worktree", title: "Worktrees" },
  { target: "session", title: "Sessions" },
];

const fail = (err: unknown) => notify(messageOf(err), "error");

/** What a place is called in the panel: the zone's or card's name, the session's title and card. */
function usePlaceName(entities: BoardEntities, sessions: BoardSessions) {
  const nodes = useStore(entities.nodes);
  const rows = useStore(sessions.rows);
  return useMemo(() => {
    const names = new Map<string, string>();
    for (const n of nodes) {
      if (isZone(n)) names.set(placeKey("zone", n.id), n.data.zone.name);
      else if (isCard(n)) names.set(placeKey("worktree", n.id), n.data.wt.name);
    }
    for (const s of rows.values()) {
      const wt = names.get(placeKey("worktree", s.worktreeId));
      names.set(placeKey("session", s.id), `${s.title || "Untitled session"}${wt ? ` · ${wt}` : ""}`);
    }
    return (p: Pick<Comment, "target" | "targetId" | "x">) => {
      if (p.target === "board") return p.x !== null ? "Pinned on the canvas" : "The board";
      return names.get(placeKey(p.target, p.targetId)) ?? `A removed ${p.target}`;
    };
  }, [nodes, rows]);
}

/**
 * Every thread of the board, board → zones → worktrees → sessions, open ones first and resolved
 * ones behind a filter; a new thread's draft on top, the thread a link or badge points at in view.
 */
export function CommentsPanel({ entities, sessions }: { entities: BoardEntities; sessions: BoardSessions }) {
  const { comments, ui } = useBoardCollab();
  const rows = useStore(comments.rows);
  const focus = useStore(ui.focus);
  const showResolved = useStore(ui.showResolved);
  const members = useStore(entities.members);
  const nameOf = usePlaceName(entities, sessions);
  const all = useMemo(() => [...rows.values()], [rows]);
  const roots = all.filter((c) => !c.threadId);
  const resolvedCount = roots.filter((c) => c.resolvedAt).length;
  const focusId = focus && "threadId" in focus ? focus.threadId : null;

  const groups = GROUPS.map((g) => {
    const keys = [...new Set(roots.filter((c) => c.target === g.target).map(keyOf))];
    const places = keys
      .map((key) => {
        const threads = threadsOf(all, key).filter((t) => showResolved || !t.root.resolvedAt || t.root.id === focusId);
        return { key, threads, open: threads.filter((t) => !t.root.resolvedAt).length };
      })
      .filter((p) => p.threads.length > 0);
    return { ...g, places };
  }).filter((g) => g.places.length > 0);

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
      <div className="c-scroll">
        {focus && "draft" in focus && (
          <NewThread key={JSON.stringify(focus.draft)} place={focus.draft} members={members} nameOf={nameOf} />
        )}
        {groups.length === 0 && !(focus && "draft" in focus) && (
          <p className="muted small c-empty">
            No {showResolved ? "" : "open "}threads. Start one from a card's or zone's comment button, a session's
            panel, or pin one on the canvas with the comment tool.
          </p>
        )}
        {groups.map((g) => (
          <section key={g.target} className="c-group" data-testid="comments-group" data-target={g.target}>
            <h3 className="c-group-title">{g.title}</h3>
            {g.places.map((p) => (
              <div key={p.key} className="c-place" data-testid="comments-place" data-key={p.key}>
                <button
                  type="button"
                  className="c-place-name"
                  onClick={() => ui.showThread(p.threads[0]!.root.id, { reveal: true })}
                  title="Show it on the canvas"
                >
                  <span>{nameOf(p.threads[0]!.root)}</span>
                  {p.open > 0 && <span className="c-count">{p.open}</span>}
                </button>
                {p.threads.map((t) => (
                  <ThreadView key={t.root.id} thread={t} members={members} focused={t.root.id === focusId} />
                ))}
              </div>
            ))}
          </section>
        ))}
      </div>
    </aside>
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
}: {
  thread: Thread;
  members: readonly Member[];
  focused: boolean;
}) {
  const { comments, role, meId } = useBoardCollab();
  const ref = useRef<HTMLDivElement>(null);
  const [replying, setReplying] = useState(false);
  const [busy, setBusy] = useState(false);
  const { root, replies } = thread;
  const resolved = !!root.resolvedAt;
  useEffect(() => {
    if (focused) ref.current?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }, [focused]);
  const canResolve = role === "owner" || role === "member";
  return (
    <div
      ref={ref}
      className={`c-thread${focused ? " focused" : ""}${resolved ? " resolved" : ""}`}
      data-testid="comment-thread"
      data-thread-id={root.id}
      data-resolved={resolved}
    >
      <CommentItem c={root} members={members} />
      {replies.map((r) => (
        <CommentItem key={r.id} c={r} members={members} reply />
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

function CommentItem({ c, members, reply }: { c: Comment; members: readonly Member[]; reply?: boolean }) {
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
    <div className={`c-item${reply ? " reply" : ""}`} data-testid="comment" data-comment-id={c.id}>
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
