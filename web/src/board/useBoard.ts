import { useEffect, useMemo, useSyncExternalStore } from "react";
import type { User, Worktree } from "../../../protocol/index.ts";
import type { Bell } from "../collab/bell.ts";
import { isCard } from "./cards.ts";
import type { BoardEntities } from "./entities.ts";
import { BoardState } from "./state.ts";

/**
 * The board page's state for one board: the stores are made once per board and user, the room is
 * joined and the board read while the page is mounted. Components subscribe to the slices they
 * show (`useStore(state.entities.members)`, …), so nothing here re-renders the page by itself.
 */
export function useBoard(boardId: string, user: User, bell: Bell | null = null): BoardState {
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new user object (a refreshed sign-in) is the same person
  const state = useMemo(() => new BoardState(boardId, user, bell), [boardId, user.id, bell]);
  useEffect(() => state.start(), [state]);
  return state;
}

/** One card's row, for a view of that card alone (a dialog): it wakes only when that row changes. */
export function useWorktree(entities: BoardEntities, worktreeId: string | undefined): Worktree | undefined {
  return useSyncExternalStore(entities.nodes.subscribe, () => {
    if (worktreeId === undefined) return undefined;
    const n = entities.node(worktreeId);
    return n && isCard(n) ? n.data.wt : undefined;
  });
}
