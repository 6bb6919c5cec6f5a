import { ReactFlowProvider } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import type { Member, User } from "../../../protocol/index.ts";
import { AskHost } from "../collab/AskDialog.tsx";
import { BellMenu } from "../collab/BellMenu.tsx";
import { type BoardCollab, BoardCollabContext } from "../collab/boardContext.ts";
import { CommentsPanel } from "../collab/CommentsPanel.tsx";
import type { BoardComments } from "../collab/comments.ts";
import { CommentsUi } from "../collab/commentsUi.ts";
import { useBell } from "../collab/context.ts";
import { Follow } from "../collab/follow.ts";
import { TriggerDialog } from "../collab/TriggerDialog.tsx";
import { useTabState } from "../collab/useAttention.ts";
import { Link, navigate, useSearch } from "../lib/router.tsx";
import { type Store, useStore, useStoreState } from "../lib/store.ts";
import { McpServersPanel } from "../mcp/McpServersPanel.tsx";
import { newStartingStore, SessionsContext } from "../sessions/context.ts";
import { BoardUsage, SessionDock, StartSessionHost } from "../sessions/SessionDock.tsx";
import type { BoardSessions } from "../sessions/store.ts";
import { TerminalsContext } from "../terminals/context.ts";
import { TerminalDock } from "../terminals/TerminalDock.tsx";
import { InlineEdit } from "../ui/InlineEdit.tsx";
import { ChevronLeftIcon, CommentIcon, ServerIcon, UsersIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import { UserMenu } from "../ui/UserMenu.tsx";
import type { BoardActions } from "./actions.ts";
import { Canvas } from "./Canvas.tsx";
import { CreateWorktreeDialog } from "./CreateWorktreeDialog.tsx";
import { isZone } from "./cards.ts";
import { BoardContext, type BoardUi } from "./context.ts";
import { DeleteWorktreeDialog } from "./DeleteWorktreeDialog.tsx";
import type { BoardEntities } from "./entities.ts";
import { Facepile } from "./Facepile.tsx";
import { MembersPanel } from "./MembersPanel.tsx";
import { NotesDialog } from "./NotesDialog.tsx";
import { RetryWorktreeDialog } from "./RetryWorktreeDialog.tsx";
import { RunnersPanel } from "./RunnersPanel.tsx";
import type { RoomConnection } from "./room.ts";
import { useBoard, useWorktree } from "./useBoard.ts";

type Dialog =
  | { kind: "create"; at: { x: number; y: number }; placedBy: "pointer" | "view" }
  | { kind: "delete"; worktreeId: string }
  | { kind: "notes"; worktreeId: string }
  | { kind: "failure"; worktreeId: string }
  | { kind: "trigger"; zoneId: string }
  | null;

type Panel = "members" | "runners" | "mcp";

export function BoardPage({ boardId, user }: { boardId: string; user: User }) {
  const state = useBoard(boardId, user, useBell());
  const { entities, actions, runners, jobs } = state;
  // The page shows the board's name and role; the canvas, the panels and the dialogs subscribe to
  // their own slices, so a card moving never re-renders the page around the canvas.
  // A read's answers change several slices at once: render them together, as the canvas does.
  const load = useStoreState(state.load);
  const board = useStoreState(entities.board);
  const room = useStoreState(state.room);
  const [panel, setPanel] = useState<Panel | null>(null);
  const [commentsUi] = useState(() => new CommentsUi());
  const [follow] = useState(() => new Follow());
  const commentsOpen = useStore(commentsUi.open);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [renaming, setRenaming] = useState(false);
  const canEdit = board ? board.role !== "viewer" : false;
  const ui = useMemo<BoardUi>(
    () => ({
      askDelete: (worktreeId) => setDialog({ kind: "delete", worktreeId }),
      editNotes: (worktreeId) => setDialog({ kind: "notes", worktreeId }),
      openFailure: (worktreeId) => setDialog({ kind: "failure", worktreeId }),
      editTrigger: (zoneId) => setDialog({ kind: "trigger", zoneId }),
    }),
    [],
  );
  const ctx = useMemo(() => ({ canEdit, actions, jobs, ui, runners }), [canEdit, actions, jobs, ui, runners]);
  const role = board?.role ?? null;
  const terminals = useMemo(
    () => ({ store: state.terminals, runners, meId: user.id, role }),
    [state.terminals, runners, user.id, role],
  );
  const [starting] = useState(newStartingStore);
  const sessions = useMemo(
    () => ({
      store: state.sessions,
      actions: state.sessionActions,
      runners,
      mcpServers: state.mcpServers,
      entities,
      meId: user.id,
      role,
      starting,
    }),
    [state.sessions, state.sessionActions, runners, state.mcpServers, entities, user.id, role, starting],
  );
  const collab = useMemo<BoardCollab>(
    () => ({ comments: state.comments, ui: commentsUi, seen: state.seen, follow, meId: user.id, role }),
    [state.comments, commentsUi, state.seen, follow, user.id, role],
  );
  useTabState(state.sessions, board?.name);
  useBoardLinks(state.comments, state.sessions, commentsUi, boardId);
  // One side panel at a time: the comments take the place of members or runners.
  useEffect(() => commentsUi.open.subscribe(() => commentsUi.open.get() && setPanel(null)), [commentsUi]);
  const closeDialog = useCallback(() => setDialog(null), []);
  const toggle = (p: Panel) => {
    commentsUi.close();
    setPanel((open) => (open === p ? null : p));
  };
  const dialogCard = useWorktree(entities, dialog && "worktreeId" in dialog ? dialog.worktreeId : undefined);
  const boardRunners = useStore(runners.board);
  const online = boardRunners?.filter((r) => r.status === "online").length ?? 0;

  if (load.status === "error") {
    return (
      <div className="empty full">
        <h1>Board unavailable</h1>
        <p className="muted">{load.message}</p>
        <Link href="/" className="btn btn-primary">
          Back to your boards
        </Link>
      </div>
    );
  }

  return (
    <SessionsContext.Provider value={sessions}>
      <BoardCollabContext.Provider value={collab}>
        <div className="board-page" data-testid="board-page">
          <header className="board-bar">
            <Link href="/" className="back" title="All boards" data-testid="back">
              <ChevronLeftIcon />
              <span>Boards</span>
            </Link>
            <span className="bar-sep" />
            {board &&
              (renaming ? (
                <InlineEdit
                  value={board.name}
                  label="Board name"
                  className="board-title-input"
                  onDone={(name) => {
                    setRenaming(false);
                    if (name !== board.name) void actions.renameBoard(name);
                  }}
                  onCancel={() => setRenaming(false)}
                />
              ) : (
                <h1
                  className={`board-title${canEdit ? " editable" : ""}`}
                  onDoubleClick={canEdit ? () => setRenaming(true) : undefined}
                  title={canEdit ? "Double-click to rename" : undefined}
                  data-testid="board-title"
                >
                  {board.name}
                </h1>
              ))}
            {board?.role === "viewer" && <span className="badge">View only</span>}
            <span className="spacer" />
            <BoardUsage />
            {room && <ConnectionState room={room} />}
            <CardsLoading progress={state.catchUp.firstLoad} />
            {room && <Facepile presence={room.presence} />}
            <CommentsButton ui={commentsUi} comments={state.comments} open={commentsOpen} />
            <button
              type="button"
              className={`btn btn-small${panel === "runners" ? " active" : ""}`}
              onClick={() => toggle("runners")}
              aria-expanded={panel === "runners"}
              title={boardRunners ? `${online} of ${boardRunners.length} runners online` : "Runners"}
              data-testid="runners-button"
            >
              <ServerIcon />
              {boardRunners && boardRunners.length > 0 && (
                <span className={`dot ${online ? "dot-online" : "dot-offline"}`} data-testid="runners-online" />
              )}
              <span>Runners</span>
            </button>
            <button
              type="button"
              className={`btn btn-small${panel === "mcp" ? " active" : ""}`}
              onClick={() => toggle("mcp")}
              aria-expanded={panel === "mcp"}
              title="MCP servers: tools this board's agents can use"
              data-testid="mcp-button"
            >
              <span>MCP</span>
            </button>
            <button
              type="button"
              className={`btn btn-small${panel === "members" ? " active" : ""}`}
              onClick={() => toggle("members")}
              aria-expanded={panel === "members"}
              data-testid="members-button"
            >
              <UsersIcon /> <MemberCount members={entities.members} />
              <span className="sr-only">members</span>
            </button>
            <BellMenu />
            <UserMenu user={user} />
          </header>
          <div className="board-body">
            <div className="board-main">
              <BoardContext.Provider value={ctx}>
                <TerminalsContext.Provider value={terminals}>
                  <ReactFlowProvider>
                    {room && (
                      <Canvas
                        entities={entities}
                        cardsLoading={state.catchUp.firstLoad}
                        room={room}
                        canEdit={canEdit}
                        actions={actions}
                        ready={load.status === "ready"}
                        onCreateWorktree={(at, placedBy) => setDialog({ kind: "create", at, placedBy })}
                      />
                    )}
                  </ReactFlowProvider>
                </TerminalsContext.Provider>
              </BoardContext.Provider>
              <TerminalDock store={state.terminals} entities={entities} runners={runners} meId={user.id} />
            </div>
            <SessionDock />
            {commentsOpen && <CommentsPanel entities={entities} sessions={state.sessions} />}
            {panel === "members" && board && (
              <MembersPanel
                members={entities.members}
                me={user}
                myRole={board.role}
                actions={actions}
                onClose={() => setPanel(null)}
              />
            )}
            {panel === "mcp" && board && (
              <McpServersPanel
                store={state.mcpServers}
                meId={user.id}
                canEdit={canEdit}
                onClose={() => setPanel(null)}
              />
            )}
            {panel === "runners" && board && (
              <RunnersPanel
                boardId={boardId}
                me={user}
                canEdit={canEdit}
                store={runners}
                onClose={() => setPanel(null)}
              />
            )}
          </div>
          {dialog?.kind === "create" && (
            <CreateWorktreeDialog
              boardId={boardId}
              at={dialog.at}
              placedBy={dialog.placedBy}
              entities={entities}
              store={runners}
              actions={actions}
              onClose={closeDialog}
              onOpenRunners={() => setPanel("runners")}
            />
          )}
          {dialog?.kind === "delete" && (
            <DeleteWorktreeDialog wt={dialogCard} actions={actions} onClose={closeDialog} />
          )}
          {dialog?.kind === "failure" && dialogCard && (
            <RetryWorktreeDialog
              wt={dialogCard}
              canEdit={canEdit}
              actions={actions}
              onRemove={() => setDialog({ kind: "delete", worktreeId: dialogCard.id })}
              onClose={closeDialog}
            />
          )}
          {dialog?.kind === "notes" && dialogCard && (
            <NotesDialog wt={dialogCard} canEdit={canEdit} actions={actions} onClose={closeDialog} />
          )}
          {dialog?.kind === "trigger" && (
            <TriggerHost zoneId={dialog.zoneId} entities={entities} actions={actions} onClose={closeDialog} />
          )}
          <StartSessionHost />
          <AskHost ask={state.ask} />
        </div>
      </BoardCollabContext.Provider>
    </SessionsContext.Provider>
  );
}

function TriggerHost({
  zoneId,
  entities,
  actions,
  onClose,
}: {
  zoneId: string;
  entities: BoardEntities;
  actions: BoardActions;
  onClose: () => void;
}) {
  const zone = useSyncExternalStore(entities.nodes.subscribe, () => {
    const n = entities.node(zoneId);
    return n && isZone(n) ? n.data.zone : undefined;
  });
  if (!zone) return null;
  return <TriggerDialog zone={zone} entities={entities} actions={actions} onClose={onClose} />;
}

/** The header's comments toggle, with the board's open-thread count. */
function CommentsButton({ ui, comments, open }: { ui: CommentsUi; comments: BoardComments; open: boolean }) {
  const counts = useStore(comments.unresolved);
  let total = 0;
  for (const n of counts.values()) total += n;
  return (
    <button
      type="button"
      className={`btn btn-small${open ? " active" : ""}`}
      onClick={() => ui.toggle()}
      aria-expanded={open}
      title={total ? `${total} open thread${total === 1 ? "" : "s"}` : "Comments"}
      data-testid="comments-button"
    >
      <CommentIcon size={13} />
      <span>Comments</span>
      {total > 0 && (
        <span className="c-count" data-testid="comments-open-count">
          {total}
        </span>
      )}
    </button>
  );
}

/**
 * A link into the board says where to look: `?comment=<id>` opens that thread and centres the
 * view on its place, `?session=<id>` opens the session's panel. The query is then dropped, so the
 * same link clicked again (from the bell) works again.
 */
function useBoardLinks(comments: BoardComments, sessions: BoardSessions, ui: CommentsUi, boardId: string) {
  const search = useSearch();
  const loaded = useStore(comments.loaded);
  useEffect(() => {
    const q = new URLSearchParams(search);
    const session = q.get("session");
    const comment = q.get("comment");
    if (!session && !comment) return;
    if (comment && !loaded) return;
    if (session) sessions.openPanel(session);
    if (comment) {
      const c = comments.rows.get().get(comment);
      if (c) ui.showThread(c.threadId ?? c.id, { reveal: true, commentId: c.id });
      else notify("That comment is no longer on the board.");
    }
    navigate(`/b/${boardId}`, { replace: true });
  }, [search, loaded, comments, sessions, ui, boardId]);
}

function CardsLoading({ progress }: { progress: Store<number | null> }) {
  const read = useStore(progress);
  if (read === null || read === 0) return null;
  return (
    <span className="muted small" data-testid="cards-loading">
      Loading worktrees… {read}
    </span>
  );
}

function MemberCount({ members }: { members: Store<Member[]> }) {
  return <>{useStore(members).length || ""}</>;
}

/** Quiet when all is well (a dot); says so in words only while the socket is down. */
function ConnectionState({ room }: { room: RoomConnection }) {
  const status = useStore(room.status);
  const label = status === "connected" ? "Live" : status === "reconnecting" ? "Reconnecting…" : "Connecting…";
  return (
    <span className={`conn conn-${status}`} data-testid="connection" data-status={status} title={label}>
      <span className="conn-dot" />
      <span className="conn-label">{label}</span>
    </span>
  );
}
