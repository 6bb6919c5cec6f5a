import type { ReactNode } from "react";
import type { User } from "../../../protocol/index.ts";
import { BellMenu } from "../collab/BellMenu.tsx";
import { Link, usePath } from "../lib/router.tsx";
import { UserMenu } from "./UserMenu.tsx";

export function Logo() {
  return (
    <Link href="/" className="logo" aria-label="Trellis home">
      <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">
        <rect x="2" y="2" width="20" height="20" rx="6" fill="var(--accent)" />
        <path d="M7 8h10M7 12h10M7 16h10M9 6v12M15 6v12" stroke="#fff" strokeWidth="1.6" strokeLinecap="round" />
      </svg>
      <span>Trellis</span>
    </Link>
  );
}

/** The frame around the non-canvas pages: top bar with navigation and the user menu. */
export function Shell({ user, children }: { user: User; children: ReactNode }) {
  const path = usePath();
  return (
    <div className="shell">
      <header className="topbar">
        <Logo />
        <nav className="nav">
          <Link href="/" className={path === "/" ? "active" : ""}>
            Boards
          </Link>
          <Link href="/runners" className={path === "/runners" ? "active" : ""} data-testid="nav-runners">
            Runners
          </Link>
          <Link href="/tokens" className={path === "/tokens" ? "active" : ""} data-testid="nav-tokens">
            API tokens
          </Link>
        </nav>
        <div className="spacer" />
        <BellMenu />
        <UserMenu user={user} />
      </header>
      <main className="page">{children}</main>
    </div>
  );
}
