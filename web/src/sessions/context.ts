import { createContext, useContext } from "react";
import type { Role } from "../../../protocol/index.ts";
import type { BoardEntities } from "../board/entities.ts";
import { Store } from "../lib/store.ts";
import type { McpServers } from "../mcp/store.ts";
import type { RunnerStore } from "../runners/store.ts";
import type { SessionActions } from "./actions.ts";
import type { BoardSessions } from "./store.ts";

/** Why a viewer's buttons are greyed, on hover. */
export const VIEWER_WHY = "You are a viewer on this board: you can watch sessions, not prompt, approve or stop them.";

/**
 * What the board's session views need: the store, its actions, and the two things a card asks the
 * page for (open a session's panel, start a session). Given once by the board page and stable, so
 * memoized cards never re-render because of it.
 */
export interface SessionsContextValue {
  store: BoardSessions;
  actions: SessionActions;
  runners: RunnerStore;
  /** The board's MCP servers, which a session picks from. */
  mcpServers: McpServers;
  entities: BoardEntities;
  meId: string;
  role: Role | null;
  /** The worktree whose start-session dialog is open. */
  starting: Store<string | null>;
}

export const SessionsContext = createContext<SessionsContextValue | null>(null);

export function useSessions(): SessionsContextValue {
  const ctx = useContext(SessionsContext);
  if (!ctx) throw new Error("SessionsContext missing");
  return ctx;
}

export const canAct = (role: Role | null) => role === "owner" || role === "member";

export const newStartingStore = () => new Store<string | null>(null);
