import { createContext, useContext } from "react";
import type { Role } from "../../../protocol/index.ts";
import type { BoardComments } from "./comments.ts";
import type { CommentsUi } from "./commentsUi.ts";
import type { Follow } from "./follow.ts";
import type { SessionSeen } from "./seen.ts";

/** What the board's collaboration views need; given once by the board page and stable. */
export interface BoardCollab {
  comments: BoardComments;
  ui: CommentsUi;
  seen: SessionSeen;
  follow: Follow;
  meId: string;
  role: Role | null;
}

export const BoardCollabContext = createContext<BoardCollab | null>(null);

export function useBoardCollab(): BoardCollab {
  const ctx = useContext(BoardCollabContext);
  if (!ctx) throw new Error("BoardCollabContext missing");
  return ctx;
}
