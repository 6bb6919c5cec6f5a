import { useState } from "react";
import type { Decision, PermissionRequest } from "../../../protocol/index.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import type { SessionActions } from "./actions.ts";
import { parseDiff } from "./diff.ts";
import { timeOf } from "./format.ts";
import { DiffView } from "./Markdown.tsx";

/**
 * A tool call waiting for a person: exactly what would run (the command, or the edit as a diff),
 * and the three answers. Viewers see it too, with the buttons greyed and why. Who answered shows
 * in the transcript, under the call, once the runner has acted on it.
 */
export function PermissionCard({
  sessionId,
  req,
  actions,
  disabledWhy,
}: {
  sessionId: string;
  req: PermissionRequest;
  actions: SessionActions;
  /** Set when this person may not answer: the reason, on hover. */
  disabledWhy: string | null;
}) {
  const [denying, setDenying] = useState(false);
  const [reason, setReason] = useState("");
  const [late, setLate] = useState(false);
  const { busy, error, run } = useSubmit();
  const decide = (d: Decision, why?: string) =>
    run(async () => {
      const counted = await actions.decide(sessionId, req.requestId, d, why);
      if (!counted) setLate(true);
    });
  const off = !!disabledWhy || busy;
  return (
    <section className="perm" data-testid="permission" data-request-id={req.requestId} data-tool={req.tool}>
      <header className="perm-head">
        <span className="perm-badge">Needs approval</span>
        <span className="perm-summary">{req.summary}</span>
        <time className="muted small">{timeOf(req.requestedAt)}</time>
      </header>
      {req.command && <pre className="tool-cmd perm-cmd">$ {req.command}</pre>}
      {req.diff && <DiffView diff={parseDiff(req.diff)} />}
      {late && <div className="small muted">Someone else answered first.</div>}
      {denying ? (
        <form
          className="perm-deny"
          onSubmit={(e) => {
            e.preventDefault();
            void decide("deny", reason.trim() || undefined);
          }}
        >
          <input
            // biome-ignore lint/a11y/noAutofocus: the reason is what the person opened this to type
            autoFocus
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            maxLength={2000}
            placeholder="Why not? The agent reads this and answers it (optional)"
            data-testid="permission-reason"
          />
          <button
            type="submit"
            className="btn btn-small btn-danger"
            disabled={off}
            data-testid="permission-deny-confirm"
          >
            Deny
          </button>
          <button type="button" className="btn btn-small" onClick={() => setDenying(false)}>
            Back
          </button>
        </form>
      ) : (
        <div className="perm-actions">
          <button
            type="button"
            className="btn btn-small btn-primary"
            disabled={off}
            title={disabledWhy ?? "Let this one call run"}
            onClick={() => void decide("allow")}
            data-testid="permission-allow"
          >
            Approve once
          </button>
          <button
            type="button"
            className="btn btn-small"
            disabled={off}
            title={disabledWhy ?? `Approve ${req.tool} for the rest of this session`}
            onClick={() => void decide("allow_always")}
            data-testid="permission-allow-always"
          >
            Always allow {req.tool}
          </button>
          <button
            type="button"
            className="btn btn-small btn-ghost-danger"
            disabled={off}
            title={disabledWhy ?? "Refuse, with a reason the agent reads"}
            onClick={() => setDenying(true)}
            data-testid="permission-deny"
          >
            Deny…
          </button>
        </div>
      )}
      {error && (
        <div className="error small" role="alert">
          {error}
        </div>
      )}
    </section>
  );
}
