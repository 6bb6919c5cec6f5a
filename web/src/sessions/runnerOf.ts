import { useSyncExternalStore } from "react";
import type { Runner } from "../../../protocol/index.ts";
import { useSessions } from "./context.ts";

/**
 * The runner a worktree card lives on, as the board's runner list has it (live through the room):
 * what a session panel says about its runtime's version and its sandbox.
 */
export function useWorktreeRunner(worktreeId: string): Runner | undefined {
  const { runners, entities } = useSessions();
  const runnerId = useSyncExternalStore(entities.nodes.subscribe, () => {
    const n = entities.node(worktreeId);
    return n?.type === "worktree" ? n.data.wt.runnerId : undefined;
  });
  return useSyncExternalStore(runners.board.subscribe, () =>
    runnerId ? runners.board.get()?.find((r) => r.id === runnerId) : undefined,
  );
}
