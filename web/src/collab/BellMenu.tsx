import { useEffect, useRef, useState } from "react";
import type { Notification, NotificationKind } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { ago } from "../lib/format.ts";
import { navigate } from "../lib/router.tsx";
import { useStore } from "../lib/store.ts";
import { notify } from "../ui/notices.tsx";
import { useBell } from "./context.ts";

const KIND_MARK: Record<NotificationKind, { mark: string; label: string }> = {
  mention: { mark: "@", label: "Mention" },
  permission: { mark: "!", label: "Waiting for approval" },
  session_finished: { mark: "✓", label: "Session finished" },
  session_failed: { mark: "✕", label: "Session failed" },
};

/** The bell in the app's header: what is for me (mentions, approvals, my sessions' ends), across boards. */
export function BellMenu() {
  const bell = useBell();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (e: PointerEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    addEventListener("pointerdown", close);
    addEventListener("keydown", esc);
    return () => {
      removeEventListener("pointerdown", close);
      removeEventListener("keydown", esc);
    };
  }, [open]);

  if (!bell) return null;
  return (
    <div className="menu bell" ref={ref}>
      <BellButton open={open} onToggle={() => setOpen((o) => !o)} />
      {open && <BellList onDone={() => setOpen(false)} />}
    </div>
  );
}

function BellButton({ open, onToggle }: { open: boolean; onToggle: () => void }) {
  const bell = useBell()!;
  const unread = useStore(bell.unread);
  const live = useStore(bell.live);
  return (
    <button
      type="button"
      className={`bell-trigger${unread ? " has-unread" : ""}`}
      onClick={onToggle}
      aria-expanded={open}
      aria-label={unread ? `Notifications, ${unread} unread` : "Notifications"}
      title={unread ? `${unread} unread` : "Notifications"}
      data-testid="bell"
      data-live={live}
    >
      <svg
        width="18"
        height="18"
        viewBox="0 0 24 24"
        fill="none"
        stroke="currentColor"
        strokeWidth="2"
        aria-hidden="true"
      >
        <path d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.94 1.94 0 0 0 3.4 0" />
      </svg>
      {unread > 0 && (
        <span className="bell-count" data-testid="bell-count">
          {unread > 99 ? "99+" : unread}
        </span>
      )}
    </button>
  );
}

function BellList({ onDone }: { onDone: () => void }) {
  const bell = useBell()!;
  const items = useStore(bell.items);
  const unread = useStore(bell.unread);
  const fail = (err: unknown) => notify(messageOf(err), "error");

  const go = (n: Notification) => {
    if (!n.readAt) bell.markRead(n.id).catch(fail);
    onDone();
    navigate(n.href);
  };

  return (
    <div className="menu-popover bell-popover" role="menu" data-testid="bell-list">
      <div className="bell-head">
        <strong>Notifications</strong>
        <button
          type="button"
          className="btn btn-small btn-ghost"
          disabled={unread === 0}
          onClick={() => bell.markAllRead().catch(fail)}
          data-testid="bell-read-all"
        >
          Mark all read
        </button>
      </div>
      {items.length === 0 ? (
        <p className="muted small bell-empty">
          Nothing yet. Mentions, approvals you can give and your sessions' ends land here.
        </p>
      ) : (
        <ul className="bell-items">
          {items.map((n) => {
            const k = KIND_MARK[n.kind];
            return (
              <li
                key={n.id}
                className={`bell-item kind-${n.kind}${n.readAt ? "" : " unread"}`}
                data-testid="bell-item"
                data-kind={n.kind}
                data-read={!!n.readAt}
              >
                <button type="button" className="bell-open" onClick={() => go(n)} data-testid="bell-open">
                  <span className="bell-mark" title={k.label}>
                    {k.mark}
                  </span>
                  <span className="bell-text">
                    <span className="bell-title">{n.title}</span>
                    {n.body && <span className="bell-body">{n.body}</span>}
                    <span className="bell-when">{ago(n.createdAt)}</span>
                  </span>
                </button>
                {!n.readAt && (
                  <button
                    type="button"
                    className="bell-dot"
                    title="Mark read"
                    aria-label="Mark read"
                    onClick={() => bell.markRead(n.id).catch(fail)}
                    data-testid="bell-mark-read"
                  />
                )}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
