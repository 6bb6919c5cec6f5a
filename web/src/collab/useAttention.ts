import { useEffect, useSyncExternalStore } from "react";
import type { BoardSessions } from "../sessions/store.ts";
import { type Attention, boardStateOf, cardAttention } from "./attention.ts";
import type { SessionSeen } from "./seen.ts";
import { drawFavicon, TAB_MARK, tabTitle } from "./tab.ts";

/**
 * Why one card pulses for me, as a string snapshot: a session or seen change re-renders only
 * the cards whose answer changed.
 */
export function useCardAttention(sessions: BoardSessions, seen: SessionSeen, worktreeId: string): Attention {
  const subscribe = (l: () => void) => {
    const a = sessions.byWorktree.subscribe(l);
    const b = seen.at.subscribe(l);
    return () => {
      a();
      b();
    };
  };
  return useSyncExternalStore(subscribe, () => {
    const mine = sessions.byWorktree.get().get(worktreeId);
    if (!mine) return null;
    return cardAttention(
      mine.nodes.map((n) => n.session),
      seen.at.get(),
    );
  });
}

/** The tab's title and favicon follow the board's state while the board is open; restored after. */
export function useTabState(sessions: BoardSessions, boardName: string | undefined): void {
  const state = useSyncExternalStore(sessions.rows.subscribe, () => boardStateOf(sessions.rows.get().values()));
  useEffect(() => {
    const before = document.title;
    return () => {
      document.title = before;
    };
  }, []);
  useEffect(() => {
    document.title = tabTitle(state, boardName);
    document.documentElement.dataset.boardState = state;
  }, [state, boardName]);
  useEffect(() => {
    let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
    const made = !link;
    if (!link) {
      link = document.createElement("link");
      link.rel = "icon";
      document.head.appendChild(link);
    }
    const before = link.href;
    const url = drawFavicon(state);
    if (url) link.href = url;
    link.dataset.state = state;
    link.title = TAB_MARK[state].label;
    const el = link;
    return () => {
      if (made) el.remove();
      else el.href = before;
      delete el.dataset.state;
      delete document.documentElement.dataset.boardState;
    };
  }, [state]);
}
