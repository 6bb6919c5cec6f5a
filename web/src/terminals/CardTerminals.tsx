import { useCallback, useSyncExternalStore } from "react";
import type { Worktree } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { notify } from "../ui/notices.tsx";
import { useTerminals } from "./context.ts";
import { terminalRight } from "./store.ts";

const noop = () => () => {};
const NONE: never[] = [];

/**
 * A card's terminals: one chip each (click to open its panel) and, while the card is pointed at or
 * selected, "+ terminal" for whoever may open one. Nothing at all on a card with no terminals that
 * nobody is pointing at, so a board of thousands of cards pays nothing for it.
 */
export function CardTerminals({ wt, active }: { wt: Worktree; active: boolean }) {
  const t = useTerminals();
  const subscribeList = useCallback((fn: () => void) => t?.store.subscribeWorktree(wt.id, fn) ?? noop, [t, wt.id]);
  const list = useSyncExternalStore(subscribeList, () => t?.store.ofWorktree(wt.id) ?? NONE);
  const subscribeRunners = useCallback((fn: () => void) => t?.runners.board.subscribe(fn) ?? noop, [t]);
  // A string snapshot, so a runner's heartbeat re-renders only the cards whose answer changed.
  const right = useSyncExternalStore(subscribeRunners, () =>
    t
      ? terminalRight(
          t.runners.board.get()?.find((r) => r.id === wt.runnerId),
          t.meId,
          t.role,
        )
      : null,
  );
  if (!t) return null;
  const canOpen = right === "type" && wt.status === "ready";
  if (!list.length && !(canOpen && active)) return null;
  const open = async () => {
    try {
      await t.store.create(wt.id);
    } catch (err) {
      notify(messageOf(err), "error");
    }
  };
  const why = right
    ? undefined
    : "Only the runner's owner can open its terminals: a terminal is a shell on their machine. The owner can let this board in from the Runners page.";
  return (
    <span className="wt-terms nodrag" data-testid="card-terminals">
      {list.map((term) => (
        <button
          key={term.id}
          type="button"
          className={`wt-term wt-term-${term.status}`}
          onClick={() => (right ? t.store.show(term.id) : notify(why!))}
          title={right ? `Open terminal “${term.name}”` : why}
          data-testid="card-terminal"
          data-name={term.name}
          data-terminal-id={term.id}
        >
          <span className="wt-term-prompt" aria-hidden="true">
            &gt;_
          </span>
          {term.name}
        </button>
      ))}
      {canOpen && active && (
        <button
          type="button"
          className="wt-term wt-term-new"
          onClick={() => void open()}
          title="Open a terminal in this worktree (a shell on the runner's machine)"
          data-testid="worktree-open-terminal"
        >
          &gt;_ +
        </button>
      )}
    </span>
  );
}
