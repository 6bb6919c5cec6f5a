import { createContext, useContext } from "react";
import type { RunnerStore } from "../runners/store.ts";
import type { BoardActions } from "./actions.ts";
import type { CardJobs } from "./jobs.ts";

/** Dialogs a card can open; they live on the board page, once, not in every card. */
export interface BoardUi {
  askDelete(worktreeId: string): void;
  editNotes(worktreeId: string): void;
  /** A failed card: its whole error, retry, edit and remove. */
  openFailure(worktreeId: string): void;
  /** A zone's prompt trigger: what dropping a card there does. */
  editTrigger(zoneId: string): void;
}

/** What canvas nodes need beyond their row. Stable across renders, so memoized nodes stay put. */
export const BoardContext = createContext<{
  canEdit: boolean;
  actions: BoardActions;
  jobs: CardJobs;
  ui: BoardUi;
  runners: RunnerStore;
} | null>(null);

export function useBoardContext() {
  const ctx = useContext(BoardContext);
  if (!ctx) throw new Error("BoardContext missing");
  return ctx;
}
