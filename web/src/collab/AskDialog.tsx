import { useEffect, useRef, useState } from "react";
import { PERMISSION_MODE_LABELS, PROVIDER_LABELS } from "../../../protocol/index.ts";
import { isZone } from "../board/cards.ts";
import type { AskNotice } from "../board/state.ts";
import { useWorktree } from "../board/useBoard.ts";
import { type Store, useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { useSessions } from "../sessions/context.ts";

/**
 * A zone with an `ask` trigger, after I dropped a card in it: its prompt, rendered for that card,
 * for me to edit and send as a new session with the zone's settings, or to cancel.
 */
export function AskHost({ ask }: { ask: Store<AskNotice | null> }) {
  const notice = useStore(ask);
  if (!notice) return null;
  return (
    <AskDialog
      key={`${notice.ask.zoneId}:${notice.ask.worktreeId}:${notice.ask.prompt}`}
      notice={notice}
      onClose={() => ask.set(null)}
    />
  );
}

function AskDialog({ notice, onClose }: { notice: AskNotice; onClose: () => void }) {
  const { actions, store, entities } = useSessions();
  const { zoneId, worktreeId, trigger } = notice.ask;
  const ref = useRef<HTMLDialogElement>(null);
  const [prompt, setPrompt] = useState(notice.ask.prompt);
  const wt = useWorktree(entities, worktreeId);
  const zone = entities.node(zoneId);
  const zoneName = zone && isZone(zone) ? zone.data.zone.name : "the zone";
  const { busy, error, run } = useSubmit();
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const send = () =>
    run(async () => {
      const s = await actions.create({
        worktreeId,
        runtime: trigger.runtime ?? "builtin",
        provider: trigger.provider,
        model: trigger.model,
        permissionMode: trigger.permissionMode,
        ...(trigger.baseUrl ? { baseUrl: trigger.baseUrl } : {}),
        prompt: prompt.trim(),
        zoneId,
      });
      store.openPanel(s.id);
      onClose();
    });
  return (
    <dialog ref={ref} className="dialog dialog-wide" onClose={onClose} data-testid="zone-ask">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (prompt.trim()) void send();
        }}
      >
        <h2>Send {zoneName}'s prompt?</h2>
        <p className="small muted">
          You dropped <strong>{wt?.name ?? "a worktree"}</strong> into <strong>{zoneName}</strong>. It starts a new
          session with {PROVIDER_LABELS[trigger.provider]} <code>{trigger.model}</code>,{" "}
          {PERMISSION_MODE_LABELS[trigger.permissionMode].split(":")[0]!.toLowerCase()} mode.
        </p>
        <label className="field">
          <span>Prompt</span>
          <textarea
            autoFocus
            rows={8}
            value={prompt}
            onChange={(e) => setPrompt(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.metaKey || e.ctrlKey) && prompt.trim()) {
                e.preventDefault();
                void send();
              }
            }}
            data-testid="zone-ask-prompt"
          />
        </label>
        {error && (
          <div className="error" role="alert">
            {error}
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose} data-testid="zone-ask-cancel">
            Cancel
          </button>
          <button
            type="submit"
            className="btn btn-primary"
            disabled={busy || !prompt.trim()}
            data-testid="zone-ask-send"
          >
            {busy ? "Sending…" : "Send"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
