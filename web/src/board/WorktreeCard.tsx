import { type NodeProps, NodeToolbar, Position } from "@xyflow/react";
import { memo, useMemo, useState, useSyncExternalStore } from "react";
import { isHttpUrl, type Worktree } from "../../../protocol/index.ts";
import { useBoardCollab } from "../collab/boardContext.ts";
import { CommentBadge } from "../collab/CommentBadge.tsx";
import { useCardAttention } from "../collab/useAttention.ts";
import { CardSessionStats, CardSessions, NewSessionButton } from "../sessions/CardSessions.tsx";
import { useSessions } from "../sessions/context.ts";
import { useWorktreeSessions } from "../sessions/store.ts";
import { CardTerminals } from "../terminals/CardTerminals.tsx";
import { notify } from "../ui/notices.tsx";
import { issueLabel, type WorktreeNode } from "./cards.ts";
import { useBoardContext } from "./context.ts";
import { type CardJob, useCardJob } from "./jobs.ts";

function pill(wt: Worktree, job: CardJob | undefined): { label: string; title: string } {
  if (wt.status === "creating" && job?.status === "queued")
    return { label: "queued", title: "Waiting for the runner to pick this up. Is it online?" };
  if (wt.status === "creating") return { label: "creating", title: "git worktree add is running on the runner" };
  if (wt.status === "deleting") return { label: "deleting", title: "Removing the worktree on the runner" };
  if (wt.status === "error") return { label: "error", title: "git refused: see the message below" };
  return { label: "ready", title: wt.path ?? "Ready" };
}

function gitSummary(wt: Worktree) {
  const g = wt.git;
  if (!g) return null;
  const base = wt.baseBranch ?? "its base";
  return {
    aheadBehind: `↑${g.ahead} ↓${g.behind}`,
    aheadTitle: `${g.ahead} commit${g.ahead === 1 ? "" : "s"} ahead of ${base}, ${g.behind} behind`,
    changed: g.changedFiles === 0 ? "clean" : `${g.changedFiles} changed`,
  };
}

/**
 * A worktree card. Cheap on purpose, since a board may hold thousands: memoized (React Flow
 * re-renders it only when its own node changes), a dozen elements, icons drawn by CSS, and the
 * toolbar only for the selected card. Job activity comes from a per-card subscription.
 */
export const WorktreeCard = memo(function WorktreeCard({ id, data, selected, dragging }: NodeProps<WorktreeNode>) {
  const { canEdit, actions, jobs, ui, runners } = useBoardContext();
  const job = useCardJob(jobs, id);
  const { wt } = data;
  // This card's sessions only: a change to another card's sessions does not wake this one.
  const sessionStore = useSessions().store;
  const sessions = useWorktreeSessions(sessionStore, id);
  // Why this card pulses for me (mine alone: what I have not looked at).
  const attention = useCardAttention(sessionStore, useBoardCollab().seen, id);
  const awaiting = (sessions?.awaiting ?? 0) > 0;
  // A boolean snapshot, so a runner's status change re-renders only the cards whose answer changed.
  const detached = useSyncExternalStore(runners.board.subscribe, () => {
    const shared = runners.board.get();
    return shared !== null && !shared.some((r) => r.id === wt.runnerId);
  });
  const { label, title } = pill(wt, job);
  // The same array while this card's sessions stay the same (the comment badge counts their threads).
  const sessionIds = useMemo(() => sessions?.nodes.map((n) => n.session.id) ?? [], [sessions]);
  // The action buttons exist only while someone points at the card (or it is selected): two fewer
  // elements on every card that is merely on screen.
  const [hover, setHover] = useState(false);
  const refreshing = job?.type === "worktree.refresh";
  const working = wt.status === "creating" || wt.status === "deleting" || refreshing;
  const git = gitSummary(wt);
  // The row names its create job; a job event names it sooner (before the row reaches us).
  const createJob = wt.status === "creating" ? (wt.jobId ?? (job?.type === "worktree.create" ? job.id : null)) : null;
  const canCancel = canEdit && !!createJob;

  const copyPath = async () => {
    if (!wt.path) return;
    try {
      await navigator.clipboard.writeText(wt.path);
      notify("Path copied.");
    } catch {
      notify(wt.path);
    }
  };

  return (
    <div
      className={`wt wt-${wt.status}${selected ? " selected" : ""}${dragging ? " dragging" : ""}${sessions ? " wt-has-sessions" : ""}${awaiting ? " wt-waits" : ""}${attention ? ` wt-attention wt-attention-${attention}` : ""}`}
      data-testid="worktree"
      data-worktree-id={id}
      data-name={wt.name}
      data-status={wt.status}
      data-zone-id={wt.zoneId ?? ""}
      data-attention={attention ?? ""}
      data-x={wt.x}
      data-y={wt.y}
      onPointerEnter={() => setHover(true)}
      onPointerLeave={() => setHover(false)}
    >
      {selected && !dragging && (
        <NodeToolbar isVisible position={Position.Top} align="end" offset={8}>
          <div className="zone-toolbar nodrag" data-testid="worktree-toolbar">
            {wt.status === "ready" && <NewSessionButton wt={wt} inToolbar />}
            <button type="button" className="btn btn-small btn-ghost" onClick={() => ui.editNotes(id)}>
              {canEdit ? "Notes" : "View notes"}
            </button>
            {wt.path && (
              <button type="button" className="btn btn-small btn-ghost" onClick={() => void copyPath()}>
                Copy path
              </button>
            )}
            {canEdit && wt.status === "error" && (
              <button
                type="button"
                className="btn btn-small btn-ghost"
                onClick={() => ui.openFailure(id)}
                data-testid="worktree-retry"
              >
                Retry or edit…
              </button>
            )}
            {canCancel && (
              <button
                type="button"
                className="btn btn-small btn-ghost-danger"
                onClick={() => createJob && void actions.cancelJob(createJob)}
                data-testid="worktree-cancel"
              >
                Cancel
              </button>
            )}
          </div>
        </NodeToolbar>
      )}
      <div className="wt-head">
        <span className={`wt-pill${working ? " working" : ""}`} title={title} data-testid="worktree-status">
          {label}
        </span>
        <span className="wt-name" title={wt.name} data-testid="worktree-name">
          {wt.name}
        </span>
        {detached && (
          <span
            className="wt-detached"
            data-testid="worktree-detached"
            title="This card's runner is no longer shared with this board, so nothing can run here. The runner's owner can share it again from the runner's settings; deleting the card removes it from the board and leaves the folder on that machine."
          >
            detached
          </span>
        )}
        {canEdit && (hover || selected) && (
          <>
            {wt.status === "error" ? (
              <button
                type="button"
                className="wt-btn i-refresh nodrag"
                onClick={() => ui.openFailure(id)}
                title="Retry or edit: see git's whole message and try again"
                aria-label="Retry or edit"
                data-testid="worktree-retry-open"
              />
            ) : (
              <button
                type="button"
                className="wt-btn i-refresh nodrag"
                disabled={wt.status !== "ready" || refreshing || detached}
                onClick={() => void actions.refreshWorktree(id)}
                title="Refresh: ahead/behind and changed files"
                aria-label="Refresh"
                data-testid="worktree-refresh"
              />
            )}
            <button
              type="button"
              className="wt-btn i-trash nodrag"
              disabled={wt.status === "creating" || wt.status === "deleting"}
              onClick={() => ui.askDelete(id)}
              title="Delete worktree"
              aria-label="Delete worktree"
              data-testid="worktree-delete"
            />
          </>
        )}
      </div>
      <div className="wt-branch i-branch" title={wt.baseBranch ? `${wt.branch}, from ${wt.baseBranch}` : wt.branch}>
        <span className="wt-ref">{wt.branch}</span>
        {wt.baseBranch && wt.baseBranch !== wt.branch && <span className="wt-base">← {wt.baseBranch}</span>}
      </div>
      {sessions && !wt.error ? (
        <CardSessions wt={wt} sessions={sessions} />
      ) : wt.error ? (
        // The whole message, scrollable in place; no tooltip holding the rest.
        <pre className="wt-message nodrag nowheel" data-testid="worktree-error">
          {wt.error}
        </pre>
      ) : (
        wt.notes && (
          <button
            type="button"
            className="wt-notes nodrag"
            onClick={() => ui.editNotes(id)}
            title={wt.notes.length > 400 ? `${wt.notes.slice(0, 400)}…` : wt.notes}
            data-testid="worktree-notes"
          >
            {wt.notes}
          </button>
        )
      )}
      <div className="wt-stats">
        {git ? (
          <>
            <span title={git.aheadTitle} data-testid="worktree-ahead-behind">
              {git.aheadBehind}
            </span>
            <span className={git.changed === "clean" ? "" : "wt-dirty"} data-testid="worktree-changed">
              {git.changed}
            </span>
          </>
        ) : (
          <span className="wt-faint">{wt.status === "ready" ? "no git state yet" : ""}</span>
        )}
        {/* Only web links become links, even for a row stored before the API refused other schemes. */}
        {wt.issueUrl && isHttpUrl(wt.issueUrl) && (
          <a
            className="wt-issue i-link nodrag"
            href={wt.issueUrl}
            target="_blank"
            rel="noreferrer noopener"
            title={wt.issueUrl}
          >
            {issueLabel(wt.issueUrl)}
          </a>
        )}
        {sessions && <CardSessionStats sessions={sessions} />}
        <CardTerminals wt={wt} active={hover || !!selected} />
        <CommentBadge target="worktree" targetId={id} sessionIds={sessionIds} visible={hover || !!selected} />
        {(hover || selected) && wt.status === "ready" && <NewSessionButton wt={wt} />}
      </div>
    </div>
  );
});
