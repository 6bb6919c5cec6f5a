import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { type Board, Name, type User } from "../../../protocol/index.ts";
import { api, expectOk, messageOf, unwrap } from "../lib/api.ts";
import { ago } from "../lib/format.ts";
import { problem } from "../lib/problems.ts";
import { Link, navigate } from "../lib/router.tsx";
import { useSubmit } from "../lib/useSubmit.ts";
import { confirm } from "../ui/confirm.tsx";
import { InlineEdit } from "../ui/InlineEdit.tsx";
import { PencilIcon, TrashIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import { Shell } from "../ui/Shell.tsx";

const PAGE = 24;
const REREAD_MS = 4000;
/** The API's largest page. */
const MAX_REREAD = 200;

const fetchPage = (cursor?: string) =>
  unwrap(api.api.boards.$get({ query: cursor ? { limit: String(PAGE), cursor } : { limit: String(PAGE) } }));

export function BoardsPage({ user }: { user: User }) {
  const [boards, setBoards] = useState<Board[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  const shown = useRef(PAGE);
  shown.current = Math.max(PAGE, boards?.length ?? 0);

  useEffect(() => {
    let live = true;
    fetchPage()
      .then((p) => {
        if (!live) return;
        setBoards(p.items);
        setCursor(p.nextCursor);
      })
      .catch((err) => live && setLoadError(messageOf(err)));
    // The list stays current by re-reading itself. Being added to or removed from a board, or a
    // board being renamed or deleted, happens in rooms this page is not in; a per-user socket on
    // every page for a list that changes a few times a day costs more than one indexed query every
    // few seconds while the page is visible (and at once when the tab comes back).
    const reread = () => {
      if (document.visibilityState !== "visible") return;
      const limit = Math.min(MAX_REREAD, shown.current);
      unwrap(api.api.boards.$get({ query: { limit: String(limit) } }))
        .then((p) => {
          if (!live) return;
          setBoards(p.items);
          setCursor(p.nextCursor);
          setLoadError(null);
        })
        .catch(() => {});
    };
    const timer = setInterval(reread, REREAD_MS);
    document.addEventListener("visibilitychange", reread);
    return () => {
      live = false;
      clearInterval(timer);
      document.removeEventListener("visibilitychange", reread);
    };
  }, []);

  const more = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const p = await fetchPage(cursor);
      setBoards((b) => [...(b ?? []), ...p.items]);
      setCursor(p.nextCursor);
    } catch (err) {
      notify(messageOf(err), "error");
    } finally {
      setLoadingMore(false);
    }
  };

  const replace = useCallback((b: Board) => setBoards((list) => list?.map((x) => (x.id === b.id ? b : x)) ?? null), []);
  const drop = useCallback((id: string) => setBoards((list) => list?.filter((x) => x.id !== id) ?? null), []);

  return (
    <Shell user={user}>
      <div className="page-head">
        <div>
          <h1>Boards</h1>
          <p className="muted">Each board is a shared canvas: zones, worktrees and the agents working in them.</p>
        </div>
        <CreateBoard />
      </div>
      {loadError && <div className="error">{loadError}</div>}
      {!boards && !loadError && <div className="grid-skeleton" aria-busy="true" />}
      {boards && boards.length === 0 && (
        <div className="empty">
          <h2>No boards yet</h2>
          <p className="muted">Create your first board above, or ask a teammate to invite you to theirs.</p>
        </div>
      )}
      {boards && boards.length > 0 && (
        <ul className="board-grid" data-testid="board-list">
          {boards.map((b) => (
            <BoardCard key={b.id} board={b} onChange={replace} onDelete={drop} />
          ))}
        </ul>
      )}
      {cursor && (
        <div className="center">
          <button type="button" className="btn" onClick={more} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
    </Shell>
  );
}

function CreateBoard() {
  const [name, setName] = useState("");
  const { busy, error, run } = useSubmit();
  const tooLong = name.trim() ? problem(Name, name, "The name") : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const board = await unwrap(api.api.boards.$post({ json: { name } }));
      navigate(`/b/${board.id}`);
    });
  };

  return (
    <form className="create-board" onSubmit={submit}>
      <input
        placeholder="New board name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        aria-label="New board name"
        aria-invalid={!!tooLong}
        required
        data-testid="new-board-name"
      />
      <button
        type="submit"
        className="btn btn-primary"
        disabled={busy || !name.trim() || !!tooLong}
        data-testid="create-board"
      >
        Create board
      </button>
      {tooLong && (
        <div className="field-error small" data-testid="problem-name">
          {tooLong}
        </div>
      )}
      {error && <div className="error small">{error}</div>}
    </form>
  );
}

function BoardCard({
  board,
  onChange,
  onDelete,
}: {
  board: Board;
  onChange: (b: Board) => void;
  onDelete: (id: string) => void;
}) {
  const [editing, setEditing] = useState(false);

  const rename = async (name: string) => {
    setEditing(false);
    if (name === board.name) return;
    try {
      onChange(await unwrap(api.api.boards[":boardId"].$patch({ param: { boardId: board.id }, json: { name } })));
    } catch (err) {
      notify(messageOf(err), "error");
    }
  };

  const remove = async () => {
    const ok = await confirm({
      title: `Delete “${board.name}”?`,
      body: "Its zones and everything placed on it go away for every member. This cannot be undone.",
      confirmLabel: "Delete board",
    });
    if (!ok) return;
    try {
      await expectOk(api.api.boards[":boardId"].$delete({ param: { boardId: board.id } }));
      onDelete(board.id);
      notify(`Deleted “${board.name}”.`);
    } catch (err) {
      notify(messageOf(err), "error");
    }
  };

  return (
    <li className="board-card" data-testid="board-card" data-board-id={board.id}>
      {editing ? (
        <InlineEdit value={board.name} onDone={rename} onCancel={() => setEditing(false)} label="Board name" />
      ) : (
        <Link href={`/b/${board.id}`} className="board-card-link">
          <span className="board-card-name">{board.name}</span>
        </Link>
      )}
      <div className="board-card-meta">
        <span className={`role role-${board.role}`}>{board.role}</span>
        <span className="muted">updated {ago(board.updatedAt)}</span>
        <span className="spacer" />
        {board.role !== "viewer" && (
          <button type="button" className="icon-btn" onClick={() => setEditing(true)} title="Rename board">
            <PencilIcon />
          </button>
        )}
        {board.role === "owner" && (
          <button
            type="button"
            className="icon-btn danger"
            onClick={remove}
            title="Delete board"
            data-testid="delete-board"
          >
            <TrashIcon />
          </button>
        )}
      </div>
    </li>
  );
}
