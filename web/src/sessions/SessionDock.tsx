import { useSyncExternalStore } from "react";
import { useWorktree } from "../board/useBoard.ts";
import { useStore } from "../lib/store.ts";
import { useSessions } from "./context.ts";
import { costLabel, costTitle, formatTokens, totalTokens, usageTitle } from "./format.ts";
import { SessionPanel } from "./SessionPanel.tsx";
import { StartSessionDialog } from "./StartSessionDialog.tsx";

/**
 * Where the board page shows sessions: the open session's panel beside the canvas, and the
 * start-session dialog. Its own subscriptions, so opening a panel never re-renders the page or
 * the canvas around it.
 */
export function SessionDock() {
  const { store } = useSessions();
  const openId = useSyncExternalStore(store.open.subscribe, () => store.open.get().at(-1) ?? null);
  const view = openId ? store.view(openId) : undefined;
  if (!openId || !view) return null;
  return <SessionPanel key={openId} sessionId={openId} view={view} />;
}

export function StartSessionHost() {
  const { starting, entities } = useSessions();
  const worktreeId = useStore(starting);
  const wt = useWorktree(entities, worktreeId ?? undefined);
  if (!worktreeId || !wt) return null;
  return <StartSessionDialog key={worktreeId} wt={wt} onClose={() => starting.set(null)} />;
}

/** The board's agent usage, in the header: every session's tokens and what they cost. */
export function BoardUsage() {
  const { store } = useSessions();
  const totals = useStore(store.totals);
  if (totals.sessions === 0) return null;
  const tokens = totalTokens(totals.usage);
  return (
    <span
      className="board-usage"
      title={`${totals.sessions} session${totals.sessions === 1 ? "" : "s"}: ${usageTitle(totals.usage)}. ${costTitle(totals.costMicros, totals.unpriced)}`}
      data-testid="board-usage"
    >
      <span className="board-usage-label">Agents</span>
      <span data-testid="board-tokens">{formatTokens(tokens)} tokens</span>
      <span className="board-usage-cost" data-testid="board-cost">
        {costLabel(totals.costMicros, totals.unpriced)}
      </span>
    </span>
  );
}
