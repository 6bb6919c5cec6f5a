import { useCallback, useEffect, useState } from "react";
import type { User } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { Link } from "../lib/router.tsx";
import { useStore } from "../lib/store.ts";
import { AddRunner } from "../runners/AddRunner.tsx";
import { RunnerItem } from "../runners/RunnerItem.tsx";
import { type RunnerStore, usePoll } from "../runners/store.ts";
import { CloseIcon } from "../ui/icons.tsx";

const POLL_MS = 5000;

/**
 * The runners a board can use, and the person's own runners they could share with it. Runners
 * shared with the board stay live through the room; the person's other runners are re-read while
 * the panel is open, since no board of theirs hears about them.
 */
export function RunnersPanel({
  boardId,
  me,
  canEdit,
  store,
  onClose,
}: {
  boardId: string;
  me: User;
  canEdit: boolean;
  store: RunnerStore;
  onClose: () => void;
}) {
  const board = useStore(store.board);
  const all = useStore(store.all);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    store.loadBoard().catch((err) => setError(messageOf(err)));
  }, [store]);
  usePoll(
    useCallback(() => store.loadAll(), [store]),
    POLL_MS,
  );

  const byId = new Map(all?.map((r) => [r.id, r]));
  // Prefer the full row (with the owner's sharing list) when we have it.
  const here = (board ?? []).map((r) => {
    const full = byId.get(r.id);
    return full ? { ...r, boardIds: full.boardIds.includes(boardId) ? full.boardIds : [...full.boardIds, boardId] } : r;
  });
  const hereIds = new Set(here.map((r) => r.id));
  const mineElsewhere = (all ?? []).filter((r) => r.ownerId === me.id && r.status !== "revoked" && !hereIds.has(r.id));

  return (
    <aside className="side-panel runners-panel" data-testid="runners-panel" aria-label="Runners">
      <div className="side-panel-head">
        <h2>Runners</h2>
        <button type="button" className="icon-btn" onClick={onClose} aria-label="Close runners">
          <CloseIcon />
        </button>
      </div>
      <p className="muted small">
        A runner is a machine where the code lives. It dials out to Trellis and does the git work: worktrees are created
        on it.{" "}
        <Link href="/runners" className="link">
          All your runners
        </Link>
      </p>
      {canEdit && <AddRunner store={store} compact onCreated={(r) => store.share(r.id, boardId)} />}
      {error && <div className="error small">{error}</div>}
      <section className="panel-section">
        <h3>On this board</h3>
        {board === null && !error && <div className="skeleton-line" aria-busy="true" />}
        {board?.length === 0 && (
          <p className="muted small" data-testid="no-board-runners">
            No runner is shared with this board yet.{" "}
            {canEdit ? "Add one above, or share one of yours below." : "Ask a member to share one."}
          </p>
        )}
        <ul className="runner-list" data-testid="board-runners">
          {here.map((r) => (
            <RunnerItem
              key={r.id}
              runner={r}
              store={store}
              meId={me.id}
              boardId={boardId}
              canUse={canEdit}
              initiallyOpen={here.length === 1}
            />
          ))}
        </ul>
      </section>
      {canEdit && mineElsewhere.length > 0 && (
        <section className="panel-section">
          <h3>Your other runners</h3>
          <ul className="runner-list" data-testid="other-runners">
            {mineElsewhere.map((r) => (
              <RunnerItem key={r.id} runner={r} store={store} meId={me.id} boardId={boardId} canUse />
            ))}
          </ul>
        </section>
      )}
    </aside>
  );
}
