import { ReactFlowProvider } from "@xyflow/react";
import { useMemo, useState } from "react";
import type { User } from "../../../protocol/index.ts";
import { Link } from "../lib/router.tsx";
import { useStore } from "../lib/store.ts";
import { InlineEdit } from "../ui/InlineEdit.tsx";
import { ChevronLeftIcon, UsersIcon } from "../ui/icons.tsx";
import { UserMenu } from "../ui/UserMenu.tsx";
import { Canvas } from "./Canvas.tsx";
import { BoardContext } from "./context.ts";
import { Facepile } from "./Facepile.tsx";
import { MembersPanel } from "./MembersPanel.tsx";
import type { RoomConnection } from "./room.ts";
import { useBoard } from "./useBoard.ts";

export function BoardPage({ boardId, user }: { boardId: string; user: User }) {
  const { load, board, nodes, setNodes, members, room, actions } = useBoard(boardId, user);
  const [membersOpen, setMembersOpen] = useState(false);
  const [renaming, setRenaming] = useState(false);
  const canEdit = board ? board.role !== "viewer" : false;
  const ctx = useMemo(() => ({ canEdit, actions }), [canEdit, actions]);

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
        {room && <ConnectionState room={room} />}
        {room && <Facepile presence={room.presence} />}
        <button
          type="button"
          className={`btn btn-small${membersOpen ? " active" : ""}`}
          onClick={() => setMembersOpen((o) => !o)}
          aria-expanded={membersOpen}
          data-testid="members-button"
        >
          <UsersIcon /> {members.length || ""}
          <span className="sr-only">members</span>
        </button>
        <UserMenu user={user} />
      </header>
      <div className="board-body">
        <BoardContext.Provider value={ctx}>
          <ReactFlowProvider>
            {room && (
              <Canvas
                nodes={nodes}
                setNodes={setNodes}
                room={room}
                canEdit={canEdit}
                actions={actions}
                ready={load.status === "ready"}
              />
            )}
          </ReactFlowProvider>
        </BoardContext.Provider>
        {membersOpen && board && (
          <MembersPanel
            members={members}
            me={user}
            myRole={board.role}
            actions={actions}
            onClose={() => setMembersOpen(false)}
          />
        )}
      </div>
    </div>
  );
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
