import { createContext, useContext } from "react";
import type { BoardActions } from "./useBoard.ts";

/** What zone nodes need beyond their row. Stable across renders, so memoized nodes stay put. */
export const BoardContext = createContext<{ canEdit: boolean; actions: BoardActions } | null>(null);

export function useBoardContext() {
  const ctx = useContext(BoardContext);
  if (!ctx) throw new Error("BoardContext missing");
  return ctx;
}
