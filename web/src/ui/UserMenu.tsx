import { useEffect, useRef, useState } from "react";
import type { User } from "../../../protocol/index.ts";
import { chimeOn, setChime } from "../collab/chime.ts";
import { api, auth, logout } from "../lib/api.ts";
import { Link } from "../lib/router.tsx";
import { useStore } from "../lib/store.ts";
import { Avatar } from "./Avatar.tsx";

export function UserMenu({ user }: { user: User }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const state = useStore(auth);
  const singleUser = state.status === "signedIn" && state.singleUser;
  const chime = useStore(chimeOn);

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

  return (
    <div className="menu" ref={ref}>
      <button
        type="button"
        className="menu-trigger"
        onClick={() => setOpen((o) => !o)}
        aria-expanded={open}
        data-testid="user-menu"
      >
        <Avatar name={user.name} color={user.color} size={28} />
      </button>
      {open && (
        <div className="menu-popover" role="menu">
          <div className="menu-header">
            <strong>{user.name}</strong>
            <span className="muted">{user.email}</span>
          </div>
          <Link href="/" role="menuitem" onClick={() => setOpen(false)}>
            Boards
          </Link>
          <Link href="/runners" role="menuitem" onClick={() => setOpen(false)}>
            Runners
          </Link>
          <Link href="/tokens" role="menuitem" onClick={() => setOpen(false)}>
            API tokens
          </Link>
          <Link href="/keys" role="menuitem" onClick={() => setOpen(false)} data-testid="keys-link">
            Keys &amp; environment
          </Link>
          <Link href="/account" role="menuitem" onClick={() => setOpen(false)} data-testid="account-link">
            Account
          </Link>
          <button
            type="button"
            role="menuitemcheckbox"
            aria-checked={chime}
            onClick={() => void setChime(api, !chime)}
            title="A short tone when an agent waits for your approval or a zone asks you"
            data-testid="chime-toggle"
          >
            {chime ? "✓ " : ""}Chime when something needs me
          </button>
          {!singleUser && (
            <button type="button" role="menuitem" onClick={() => void logout()} data-testid="logout">
              Log out
            </button>
          )}
        </div>
      )}
    </div>
  );
}
