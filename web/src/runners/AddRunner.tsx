import { type FormEvent, useState } from "react";
import {
  Name,
  RUNNER_CLI,
  RUNNER_CLI_PUBLISHED,
  type Runner,
  type RunnerRegistration,
} from "../../../protocol/index.ts";
import { problem } from "../lib/problems.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { CheckIcon, CopyIcon, PlusIcon, Spinner } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import type { RunnerStore } from "./store.ts";

/**
 * "Add runner": a name, then the exact command to paste on the machine with the code. The token in
 * it is shown once; the box then follows the new runner until it registers and comes online.
 */
export function AddRunner({
  store,
  onCreated,
  compact = false,
}: {
  store: RunnerStore;
  /** e.g. share it with the board the person is on, so it is usable there at once */
  onCreated?: (runner: Runner) => Promise<void>;
  compact?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const { busy, error, run } = useSubmit();
  const [reg, setReg] = useState<RunnerRegistration | null>(null);
  const tooLong = name.trim() ? problem(Name, name, "The name") : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const created = await store.create(name);
      await onCreated?.(created.runner);
      setReg(created);
      setName("");
      setOpen(false);
    });
  };

  return (
    <div className="add-runner">
      {reg && <Registration reg={reg} store={store} onDismiss={() => setReg(null)} />}
      {open ? (
        <form className={`add-runner-form${compact ? " compact" : ""}`} onSubmit={submit}>
          <label className="field">
            <span>Runner name</span>
            <input
              // biome-ignore lint/a11y/noAutofocus: the form opens on purpose for this one field
              autoFocus
              placeholder="e.g. Ada's laptop"
              value={name}
              onChange={(e) => setName(e.target.value)}
              aria-invalid={!!tooLong}
              required
              data-testid="runner-name"
            />
            {tooLong && <small className="field-error">{tooLong}</small>}
          </label>
          <div className="row-actions">
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button
              type="submit"
              className="btn btn-small btn-primary"
              disabled={busy || !name.trim() || !!tooLong}
              data-testid="runner-create"
            >
              {busy ? "Creating…" : "Create"}
            </button>
          </div>
          {error && (
            <div className="error small" role="alert">
              {error}
            </div>
          )}
        </form>
      ) : (
        <button
          type="button"
          className={`btn ${compact ? "btn-small btn-block" : "btn-primary"}`}
          onClick={() => setOpen(true)}
          data-testid="add-runner"
        >
          <PlusIcon /> Add runner
        </button>
      )}
    </div>
  );
}

function Registration({
  reg,
  store,
  onDismiss,
}: {
  reg: RunnerRegistration;
  store: RunnerStore;
  onDismiss: () => void;
}) {
  const [copied, setCopied] = useState(false);
  const all = useStore(store.all);
  const live = all?.find((r) => r.id === reg.runner.id) ?? reg.runner;
  const expires = new Date(reg.expiresAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const start = `${RUNNER_CLI} start`;

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(reg.command);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      notify("Copy failed: select the command and copy it by hand.", "error");
    }
  };

  return (
    <div className="reveal runner-reveal" data-testid="runner-registration">
      <div className="reveal-head">
        <strong>Run this in a clone of Trellis on the machine that has your code</strong>
        <span className="muted small">
          {" "}
          (in the clone's root folder, after <code>npm install</code>). The token in it works once, for 1 hour (until{" "}
          {expires}). Then start it with <code>{start}</code>.
        </span>
      </div>
      <div className="reveal-row">
        <code className="reveal-token" data-testid="runner-command">
          {reg.command}
        </code>
        <button type="button" className="btn btn-small" onClick={copy} data-testid="copy-command">
          {copied ? <CheckIcon /> : <CopyIcon />} {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <p className="muted small" data-testid="runner-command-published">
        Once trellis-runner is published on npm, these become <code>{RUNNER_CLI_PUBLISHED} register …</code> and{" "}
        <code>{RUNNER_CLI_PUBLISHED} start</code>, from any folder.
      </p>
      <div className="reveal-foot">
        <span className="small" data-testid="registration-status" data-status={live.status}>
          {live.status === "pending" ? (
            <>
              <Spinner /> Waiting for “{live.name}” to register…
            </>
          ) : live.status === "online" ? (
            <>
              <span className="dot dot-online" /> “{live.name}” is online.
            </>
          ) : (
            <>
              <span className="dot dot-offline" /> “{live.name}” is registered: start it with <code>{start}</code> in
              the clone.
            </>
          )}
        </span>
        <button type="button" className="btn btn-small btn-ghost" onClick={onDismiss}>
          Done
        </button>
      </div>
    </div>
  );
}
