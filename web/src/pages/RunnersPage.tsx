import { useCallback, useEffect, useState } from "react";
import type { User } from "../../../protocol/index.ts";
import { useStore } from "../lib/store.ts";
import { AddRunner } from "../runners/AddRunner.tsx";
import { RunnerItem } from "../runners/RunnerItem.tsx";
import { RunnerStore, usePoll } from "../runners/store.ts";
import { Shell } from "../ui/Shell.tsx";

const POLL_MS = 5000;

/** Every runner the person can see: theirs (to add, revoke, and see where shared) and ones shared with them. */
export function RunnersPage({ user }: { user: User }) {
  const [store] = useState(() => new RunnerStore(null));
  useEffect(() => () => store.close(), [store]);
  usePoll(
    useCallback(() => store.loadAll(), [store]),
    POLL_MS,
  );
  const all = useStore(store.all);
  const error = useStore(store.error);
  const mine = all?.filter((r) => r.ownerId === user.id && r.status !== "revoked") ?? [];
  const shared = all?.filter((r) => r.ownerId !== user.id) ?? [];
  const revoked = all?.filter((r) => r.ownerId === user.id && r.status === "revoked") ?? [];

  return (
    <Shell user={user}>
      <div className="page-head">
        <div>
          <h1>Runners</h1>
          <p className="muted">
            Machines that hold your code. A runner dials out to Trellis, so it works behind NAT and firewalls; share it
            with a board and its members can create worktrees on it.
          </p>
        </div>
      </div>
      <AddRunner store={store} />
      {error && <div className="error">{error}</div>}
      {!all && !error && <div className="grid-skeleton" aria-busy="true" />}
      {all && mine.length === 0 && shared.length > 0 && (
        <p className="muted empty-line">You have no runners of your own yet.</p>
      )}
      {all && mine.length === 0 && shared.length === 0 && (
        <div className="empty">
          <h2>No runners yet</h2>
          <p className="muted">Add one above and paste the command it gives you on the machine with your code.</p>
        </div>
      )}
      {mine.length > 0 && (
        <ul className="runner-list runner-page-list" data-testid="runner-list">
          {mine.map((r) => (
            <RunnerItem key={r.id} runner={r} store={store} meId={user.id} canUse />
          ))}
        </ul>
      )}
      {shared.length > 0 && (
        <>
          <h2 className="section-title">Shared with you</h2>
          <ul className="runner-list runner-page-list">
            {shared.map((r) => (
              <RunnerItem key={r.id} runner={r} store={store} meId={user.id} canUse />
            ))}
          </ul>
        </>
      )}
      {revoked.length > 0 && (
        <details className="revoked-runners">
          <summary className="muted">Revoked ({revoked.length})</summary>
          <ul className="runner-list runner-page-list">
            {revoked.map((r) => (
              <RunnerItem key={r.id} runner={r} store={store} meId={user.id} canUse={false} />
            ))}
          </ul>
        </details>
      )}
    </Shell>
  );
}
