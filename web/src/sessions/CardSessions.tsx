import { useSyncExternalStore } from "react";
import type { SessionStatus, Worktree } from "../../../protocol/index.ts";
import { canAct, useSessions, VIEWER_WHY } from "./context.ts";
import { costLabel, costTitle, formatTokens, STATUS_LABEL, STATUS_TITLE, totalTokens, usageTitle } from "./format.ts";
import type { WorktreeSessions } from "./tree.ts";

/** The card has little room: the longest status is said shorter there (the tooltip says it whole). */
const CHIP: Record<SessionStatus, string> = { ...STATUS_LABEL, awaiting_permission: "needs approval" };

/**
 * A card's sessions as their genealogy tree: forks and spawned children indented under their
 * parent, each with its status and what it is doing now. The slice comes from the card (one
 * subscription per worktree), so a session's change re-renders this card and no other; stream
 * deltas never reach it at all.
 */
export function CardSessions({ wt, sessions }: { wt: Worktree; sessions: WorktreeSessions }) {
  const { store } = useSessions();
  // Which of this card's sessions has its panel open: a string, so opening another card's panel
  // re-renders only the two cards concerned.
  const openHere = useSyncExternalStore(store.open.subscribe, () => {
    const open = store.open.get();
    return sessions.nodes.find((n) => open.includes(n.session.id))?.session.id ?? "";
  });
  return (
    <ul className="wt-sessions nodrag nowheel" data-testid="card-sessions" aria-label={`Sessions on ${wt.name}`}>
      {sessions.nodes.map(({ session: s, depth, mark }) => (
        <li key={s.id}>
          <button
            type="button"
            className={`sess-row sess-${s.status}${openHere === s.id ? " open" : ""}`}
            style={depth ? { paddingLeft: 4 + depth * 12 } : undefined}
            onClick={() => store.openPanel(s.id)}
            title={`${s.title || "Untitled session"} — ${STATUS_TITLE[s.status]}${s.nowDoing ? `\n${s.nowDoing}` : ""}`}
            data-testid="session-row"
            data-session-id={s.id}
            data-status={s.status}
            data-depth={depth}
          >
            {mark && (
              <span className="sess-mark" title={mark === "fork" ? "forked" : "spawned"}>
                {mark === "fork" ? "⋔" : "↳"}
              </span>
            )}
            <span className={`sess-chip chip-${s.status}`}>{CHIP[s.status]}</span>
            <span className="sess-title">{s.title || "Untitled"}</span>
            <span className="sess-now" data-testid="session-now">
              {s.nowDoing ?? ""}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

/** The card's stats line: sessions waiting for a person (for everyone to see), and what they cost. */
export function CardSessionStats({ sessions }: { sessions: WorktreeSessions }) {
  const tokens = totalTokens(sessions.usage);
  return (
    <>
      {sessions.awaiting > 0 && (
        <span
          className="wt-awaiting"
          title="An agent waits for a member to approve or deny a tool call: open the session"
          data-testid="worktree-awaiting"
        >
          {sessions.awaiting} waiting
        </span>
      )}
      {tokens > 0 && (
        <span
          className="wt-cost"
          title={`${usageTitle(sessions.usage)}. ${costTitle(sessions.costMicros, sessions.unpriced)}`}
          data-testid="worktree-cost"
        >
          {sessions.unpriced && sessions.costMicros === 0
            ? `${formatTokens(tokens)} tok`
            : costLabel(sessions.costMicros, sessions.unpriced)}
        </span>
      )}
    </>
  );
}

/** "New session" on a card that is pointed at or selected: compact in its stats line, in words on its toolbar. */
export function NewSessionButton({ wt, inToolbar = false }: { wt: Worktree; inToolbar?: boolean }) {
  const { role, starting } = useSessions();
  const allowed = canAct(role);
  const ready = wt.status === "ready";
  return (
    <button
      type="button"
      className={inToolbar ? "btn btn-small btn-ghost" : "wt-term wt-term-new wt-sess-new"}
      disabled={!allowed || !ready}
      onClick={() => starting.set(wt.id)}
      title={!allowed ? VIEWER_WHY : ready ? "New agent session in this worktree" : "The worktree is not ready yet"}
      aria-label="New session"
      data-testid={inToolbar ? "session-new-toolbar" : "session-new"}
    >
      {inToolbar ? "New session" : "✦ +"}
    </button>
  );
}
