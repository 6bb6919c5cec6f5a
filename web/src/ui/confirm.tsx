import { useEffect, useRef } from "react";
import { Store, useStore } from "../lib/store.ts";

type Ask = { title: string; body: string; confirmLabel: string; resolve: (ok: boolean) => void };

const pending = new Store<Ask | null>(null);

/** Ask before anything destructive. Resolves true only when the person confirms. */
export function confirm(opts: { title: string; body: string; confirmLabel?: string }): Promise<boolean> {
  pending.get()?.resolve(false);
  return new Promise((resolve) => pending.set({ confirmLabel: "Delete", ...opts, resolve }));
}

/** One native <dialog> for the whole app: focus trapping, Escape and the backdrop come for free. */
export function ConfirmDialog() {
  const ask = useStore(pending);
  const ref = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (ask && !d.open) d.showModal();
    if (!ask && d.open) d.close();
  }, [ask]);

  const answer = (ok: boolean) => {
    ask?.resolve(ok);
    pending.set(null);
  };

  return (
    <dialog ref={ref} className="dialog" onClose={() => answer(false)} data-testid="confirm-dialog">
      {ask && (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            answer(true);
          }}
        >
          <h2>{ask.title}</h2>
          <p>{ask.body}</p>
          <div className="dialog-actions">
            <button type="button" className="btn" onClick={() => answer(false)}>
              Cancel
            </button>
            {/* biome-ignore lint/a11y/noAutofocus: the dialog's purpose is this one decision */}
            <button type="submit" className="btn btn-danger" autoFocus data-testid="confirm-ok">
              {ask.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
