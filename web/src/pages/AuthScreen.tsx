import { type FormEvent, useState } from "react";
import { Email, Name, Password } from "../../../protocol/index.ts";
import { login, register } from "../lib/api.ts";
import { problem } from "../lib/problems.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { Logo } from "../ui/Shell.tsx";

/** Log in or create an account. Error text comes straight from the API, which words it for people. */
export function AuthScreen({ notice }: { notice?: string }) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, setError, run } = useSubmit();
  const [tried, setTried] = useState(false);

  // Signing up, the form says first what the server would refuse (the schemas it checks with).
  const problems =
    mode === "register"
      ? {
          name: problem(Name, name, "Your name"),
          email: problem(Email, email, "The email"),
          password: problem(Password, password, "The password"),
        }
      : { name: null, email: null, password: null };
  const invalid = Object.values(problems).some(Boolean);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (invalid) return;
    void run(() => (mode === "login" ? login(email, password) : register(name, email, password)));
  };

  const switchTo = (m: typeof mode) => {
    setMode(m);
    setTried(false);
    setError(null);
  };

  /** A problem shows once the field has something in it, or after a try. */
  const show = (field: keyof typeof problems, value: string) =>
    (tried || value.length > 0) && problems[field] ? (
      <small className="field-error" data-testid={`problem-${field}`}>
        {problems[field]}
      </small>
    ) : null;

  return (
    <div className="auth">
      <div className="auth-card">
        <Logo />
        <h1>{mode === "login" ? "Welcome back" : "Create your account"}</h1>
        <p className="muted">
          {mode === "login"
            ? "Log in to your boards."
            : "A shared canvas for many coding agents, with your team watching."}
        </p>
        {notice && !error && <div className="callout">{notice}</div>}
        <form onSubmit={submit} className="stack" data-testid={`${mode}-form`} noValidate={mode === "register"}>
          {mode === "register" && (
            <label className="field">
              <span>Name</span>
              <input name="name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} required />
              {show("name", name)}
            </label>
          )}
          <label className="field">
            <span>Email</span>
            <input
              name="email"
              type="email"
              autoComplete="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              required
            />
            {tried && show("email", email)}
          </label>
          <label className="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              autoComplete={mode === "login" ? "current-password" : "new-password"}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
            />
            {mode === "register" &&
              (show("password", password) ?? <small className="muted">At least 10 characters.</small>)}
          </label>
          {error && (
            <div className="error" role="alert" data-testid="auth-error">
              {error}
            </div>
          )}
          <button type="submit" className="btn btn-primary btn-block" disabled={busy} data-testid="auth-submit">
            {busy ? "One moment…" : mode === "login" ? "Log in" : "Create account"}
          </button>
        </form>
        <p className="auth-switch">
          {mode === "login" ? (
            <>
              New here?{" "}
              <button type="button" className="link" onClick={() => switchTo("register")} data-testid="to-register">
                Create an account
              </button>
            </>
          ) : (
            <>
              Have an account?{" "}
              <button type="button" className="link" onClick={() => switchTo("login")} data-testid="to-login">
                Log in
              </button>
            </>
          )}
        </p>
      </div>
    </div>
  );
}
