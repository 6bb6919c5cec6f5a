import { type FormEvent, useState } from "react";
import type { Session } from "../../../protocol/index.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { usePopover } from "../ui/usePopover.ts";
import { useSessions } from "./context.ts";
import { hostsNote, parseHosts } from "./readiness.ts";
import { useWorktreeRunner } from "./runnerOf.ts";

/**
 * The session panel's allowed hosts: what its shell commands may reach through the runner's
 * sandbox, changed by a member, from the next task (prompt) on: a running task keeps the list it started with. The list is checked as the edge checks
 * it before it is sent, and the line under it says what it does on this session's runner.
 */
export function SessionHostsMenu({ session, disabledWhy }: { session: Session; disabledWhy: string | null }) {
  const { actions } = useSessions();
  const runner = useWorktreeRunner(session.worktreeId);
  const { open, setOpen, ref } = usePopover();
  const [text, setText] = useState("");
  const { busy, error, setError, run } = useSubmit();
  const hosts = session.allowedHosts;
  const parsed = parseHosts(text);
  const changed = parsed.hosts.join(" ") !== hosts.join(" ");

  const toggle = () => {
    if (!open) {
      setText(hosts.join(", "));
      setError(null);
    }
    setOpen(!open);
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    if (parsed.problem || !changed || disabledWhy) return;
    void run(async () => {
      await actions.setAllowedHosts(session.id, parsed.hosts);
      setOpen(false);
    });
  };

  return (
    <div className="menu session-hosts" ref={ref}>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        onClick={toggle}
        aria-expanded={open}
        title={
          hosts.length
            ? `Allowed hosts: ${hosts.join(", ")}`
            : `No allowed hosts. ${hostsNote(runner, session.runtime).replace(" except these hosts", "")}`
        }
        data-testid="session-hosts"
      >
        Hosts{hosts.length > 0 ? ` · ${hosts.length}` : ""}
      </button>
      {open && (
        <form className="menu-popover session-hosts-popover" onSubmit={save} data-testid="session-hosts-menu">
          <label className="field">
            <span>Allowed hosts</span>
            <input
              // biome-ignore lint/a11y/noAutofocus: the list is what the person opened this to edit
              autoFocus
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder="registry.npmjs.org, *.github.com"
              spellCheck={false}
              autoComplete="off"
              disabled={!!disabledWhy || busy}
              aria-invalid={parsed.problem ? true : undefined}
              data-testid="session-hosts-input"
            />
          </label>
          {parsed.problem ? (
            <small className="field-error" data-testid="session-hosts-problem">
              {parsed.problem}
            </small>
          ) : (
            <small className="muted" data-testid="session-hosts-note">
              {disabledWhy ??
                `${hostsNote(runner, session.runtime)} From the next prompt on; a running task keeps the list it started with.`}
            </small>
          )}
          {error && (
            <div className="error small" role="alert" data-testid="session-hosts-error">
              {error}
            </div>
          )}
          <div className="session-hosts-actions">
            <button
              type="submit"
              className="btn btn-small btn-primary"
              disabled={!!disabledWhy || busy || !changed || !!parsed.problem}
              data-testid="session-hosts-save"
            >
              {busy ? "Saving…" : "Save"}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
