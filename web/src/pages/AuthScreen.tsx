import { type FormEvent, useState } from "react";
import { login, register } from "../lib/api.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { Logo } from "../ui/Shell.tsx";

/** Log in or create an account. Error text comes straight from the API, which words it for people. */
export function AuthScreen({ notice }: { notice?: string }) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, setError, run } = useSubmit();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(() => (mode === "login" ? login(email, password) : register(name, email, password)));
  };

  const switchTo = (m: typeof mode) => {
    setMode(m);
    setError(null);
  };

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
        <form onSubmit={submit} className="stack" data-testid={`${mode}-form`}>
          {mode === "register" && (
            <label className="field">
              <span>Name</span>
              <input
                name="name"
                autoComplete="name"
                value={name}
                onChange={(e) => setName(e.target.value)}
                required
                maxLength={120}
              />
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
            {mode === "register" && <small className="muted">At least 10 characters.</small>}
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
