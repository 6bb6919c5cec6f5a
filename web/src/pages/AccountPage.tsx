import { type FormEvent, useState } from "react";
import { Password, type User } from "../../../protocol/index.ts";
import { auth, changePassword } from "../lib/api.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { notify } from "../ui/notices.tsx";
import { Shell } from "../ui/Shell.tsx";

/** The signed-in person's account: who they are, and their password. */
export function AccountPage({ user }: { user: User }) {
  const state = useStore(auth);
  const singleUser = state.status === "signedIn" && state.singleUser;
  return (
    <Shell user={user}>
      <div className="page-head">
        <div>
          <h1>Account</h1>
          <p className="muted">
            {user.name} · {user.email}
          </p>
        </div>
      </div>
      {singleUser ? (
        <p className="muted">Single-user mode has no password: Trellis signs this machine's owner in by itself.</p>
      ) : (
        <ChangePassword />
      )}
    </Shell>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [tried, setTried] = useState(false);
  const { busy, error, run } = useSubmit();
  // The server's own rule, so the form says first, in words, what the server would refuse.
  const checked = Password.safeParse(next);
  const problem = checked.success ? null : `The new password ${checked.error.issues[0]?.message}.`;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (problem || !current) return;
    void run(async () => {
      await changePassword(current, next);
      setCurrent("");
      setNext("");
      setTried(false);
      notify("Password changed. Every other sign-in was signed out.");
    });
  };

  return (
    <form className="stack-form" onSubmit={submit} data-testid="change-password">
      <h2>Change password</h2>
      <p className="muted small">
        Signs you out everywhere else, and closes the board tabs of those sign-ins. API tokens keep working.
      </p>
      <label>
        Current password
        <input
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          required
          data-testid="current-password"
        />
      </label>
      <label>
        New password
        <input
          type="password"
          autoComplete="new-password"
          value={next}
          onChange={(e) => setNext(e.target.value)}
          aria-invalid={tried && !!problem}
          required
          data-testid="new-password"
        />
      </label>
      {tried && problem && <div className="error small">{problem}</div>}
      {error && <div className="error small">{error}</div>}
      <button type="submit" className="btn btn-primary" disabled={busy} data-testid="change-password-submit">
        Change password
      </button>
    </form>
  );
}
