import type { User } from "../../../protocol/index.ts";
import { Link } from "../lib/router.tsx";
import { Shell } from "../ui/Shell.tsx";

export function NotFound({ user }: { user: User }) {
  return (
    <Shell user={user}>
      <div className="empty">
        <h1>Nothing here</h1>
        <p className="muted">This page does not exist.</p>
        <Link href="/" className="btn btn-primary">
          Go to your boards
        </Link>
      </div>
    </Shell>
  );
}
