import { ReactFlowProvider } from "@xyflow/react";
import { useCallback, useMemo, useState } from "react";
import type { Member, User } from "../../../protocol/index.ts";
import { BellMenu } from "../collab/BellMenu.tsx";
import { useBell } from "../collab/context.ts";
import { Link } from "../lib/router.tsx";
import { type Store, useStore, useStoreState } from "../lib/store.ts";
import { newStartingStore, SessionsContext } from "../sessions/context.ts";
import { BoardUsage, SessionDock, StartSessionHost } from "../sessions/SessionDock.tsx";
import { TerminalsContext } from "../terminals/context.ts";
import { TerminalDock } from "../terminals/TerminalDock.tsx";
import { InlineEdit } from "../ui/InlineEdit.tsx";
import { ChevronLeftIcon, ServerIcon, UsersIcon } from "../ui/icons.tsx";
import { UserMenu } from "../ui/UserMenu.tsx";
import { Canvas } from "./Canvas.tsx";
import { CreateWorktreeDialog } from "./CreateWorktreeDialog.tsx";
import { BoardContext, type BoardUi } from "./context.ts";
import { DeleteWorktreeDialog } from "./DeleteWorktreeDialog.tsx";
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
  | null;

export function BoardPage({ boardId, user }: { boardId: string; user: User }) {
  const state = useBoard(boardId, user, useBell());
  const { entities, actions, runners, jobs } = state;
  // The page shows the board's name and role; the canvas, the panels and the dialogs subscribe to
  // their own slices, so a card moving never re-renders the page around the canvas.
  // A read's answers change several slices at once: render them together, as the canvas does.
  const load = useStoreState(state.load);
  const board = useStoreState(entities.board);
  const room = useStoreState(state.room);
  const [panel, setPanel] = useState<"members" | "runners" | null>(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [renaming, setRenaming] = useState(false);
  const canEdit = board ? board.role !== "viewer" : false;
  const ui = useMemo<BoardUi>(
    () => ({
      askDelete: (worktreeId) => setDialog({ kind: "delete", worktreeId }),
      editNotes: (worktreeId) => setDialog({ kind: "notes", worktreeId }),
      openFailure: (worktreeId) => setDialog({ kind: "failure", worktreeId }),
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
      entities,
      meId: user.id,
      role,
      starting,
    }),
    [state.sessions, state.sessionActions, runners, entities, user.id, role, starting],
  );
  const closeDialog = useCallback(() => setDialog(null), []);
  const toggle = (p: "members" | "runners") => setPanel((open) => (open === p ? null : p));
  const dialogCard = useWorktree(entities, dialog && dialog.kind !== "create" ? dialog.worktreeId : undefined);
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
          {panel === "members" && board && (
            <MembersPanel
              members={entities.members}
              me={user}
              myRole={board.role}
              actions={actions}
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
        {dialog?.kind === "delete" && <DeleteWorktreeDialog wt={dialogCard} actions={actions} onClose={closeDialog} />}
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
        <StartSessionHost />
      </div>
    </SessionsContext.Provider>
  );
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
