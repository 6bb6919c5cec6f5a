import { useCallback, useEffect, useState } from "react";
import {
  type Message,
  PERMISSION_MODE_LABELS,
  PERMISSION_MODES,
  type PermissionMode,
  PROVIDER_LABELS,
  type Session,
  type Todo,
} from "../../../protocol/index.ts";
import { SessionExtras } from "../collab/SessionExtras.tsx";
import { messageOf } from "../lib/api.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { SessionMcpMenu } from "../mcp/McpPicker.tsx";
import { confirm } from "../ui/confirm.tsx";
import { InlineEdit } from "../ui/InlineEdit.tsx";
import { CloseIcon, TrashIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import { Composer, Queue } from "./Composer.tsx";
import { canAct, useSessions, VIEWER_WHY } from "./context.ts";
import { ForkDialog } from "./ForkDialog.tsx";
import {
  contextMeter,
  costLabel,
  costTitle,
  formatTokens,
  isBusy,
  STATUS_LABEL,
  STATUS_TITLE,
  totalTokens,
  usageTitle,
} from "./format.ts";
import { SessionHostsMenu } from "./HostsMenu.tsx";
import { PermissionCard } from "./PermissionCard.tsx";
import { codexModeNote, runtimeChoice, runtimeLabel, runtimeNote } from "./readiness.ts";
import { useWorktreeRunner } from "./runnerOf.ts";
import { useSession } from "./store.ts";
import { Transcript } from "./Transcript.tsx";
import type { SessionView } from "./view.ts";

/**
 * One session, beside the canvas: who asked what and what the agent did, live; its requests for
 * permission, its queue, its todo list, and the prompt box. Everything here listens to this
 * session alone.
 */
export function SessionPanel({ sessionId, view }: { sessionId: string; view: SessionView }) {
  const { store, actions, role } = useSessions();
  const session = useSession(store, sessionId);
  const status = useStore(view.status);
  const readError = useStore(view.readError);
  const tasks = useStore(view.tasks);
  const [forkAt, setForkAt] = useState<Message | null>(null);
  const [spawning, setSpawning] = useState(false);
  const allowed = canAct(role);
  const why = allowed ? null : VIEWER_WHY;
  const onFork = useCallback((m: Message) => setForkAt(m), []);
  const close = useCallback(() => store.closePanel(sessionId), [store, sessionId]);
  // Escape closes the panel, unless it is closing something inside it (a dialog, an edit).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape" || e.defaultPrevented) return;
      const t = e.target as HTMLElement | null;
      if (t?.closest("dialog, input, textarea, select")) return;
      close();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [close]);

  if (!session) {
    return (
      <aside className="side-panel session-panel" data-testid="session-panel">
        <div className="side-panel-head">
          <h2>Session</h2>
          <button type="button" className="icon-btn" onClick={close} aria-label="Close session">
            <CloseIcon />
          </button>
        </div>
        <p className="muted">{status.status === "gone" ? status.message : "Loading…"}</p>
      </aside>
    );
  }

  return (
    <aside
      className="side-panel session-panel"
      data-testid="session-panel"
      data-session-id={session.id}
      data-status={session.status}
      aria-label={`Session ${session.title}`}
    >
      <PanelHead session={session} onClose={close} canEdit={allowed} />
      <PanelMeta session={session} disabledWhy={why} />
      {session.lastError && session.status === "failed" && (
        <div className="error small" data-testid="session-last-error">
          {session.lastError}
        </div>
      )}
      {session.todos.length > 0 && <Todos todos={session.todos} />}
      {status.status === "error" && (
        <div className="error small" role="alert">
          Could not read the transcript: {status.message}
        </div>
      )}
      {status.status === "gone" && <div className="callout">{status.message}</div>}
      {readError && <div className="small muted">Could not catch up: {readError}. Shown may be out of date.</div>}
      <Transcript view={view} onFork={onFork} canFork={allowed} forkWhy={why ?? undefined} />
      {session.pending.map((req) => (
        <PermissionCard key={req.requestId} sessionId={session.id} req={req} actions={actions} disabledWhy={why} />
      ))}
      <Queue sessionId={session.id} tasks={tasks} actions={actions} disabledWhy={why} />
      {spawning && <SpawnForm session={session} onDone={() => setSpawning(false)} />}
      <div className="panel-foot">
        <Composer session={session} actions={actions} disabledWhy={why} />
        <div className="panel-foot-actions">
          <button
            type="button"
            className="btn btn-small btn-ghost"
            disabled={!allowed}
            title={why ?? "Start a child session with its own prompt; its answer comes back here"}
            onClick={() => setSpawning((s) => !s)}
            data-testid="session-spawn"
          >
            ↳ Spawn child
          </button>
        </div>
      </div>
      {forkAt && <ForkDialog session={session} at={forkAt} onClose={() => setForkAt(null)} />}
    </aside>
  );
}

function PanelHead({ session, onClose, canEdit }: { session: Session; onClose: () => void; canEdit: boolean }) {
  const { actions } = useSessions();
  const [renaming, setRenaming] = useState(false);
  const [stopping, setStopping] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const busy = isBusy(session);
  const remove = async () => {
    const name = session.title || "Untitled session";
    const ok = await confirm({
      title: `Delete session “${name}”?`,
      body: `Its transcript, queue and todo list are deleted for everyone on the board${busy ? ", and the agent is stopped first" : ""}. The worktree and its files stay as they are.`,
      confirmLabel: "Delete session",
    });
    if (!ok) return;
    setDeleting(true);
    try {
      await actions.remove(session.id);
      onClose();
    } catch (err) {
      notify(messageOf(err), "error");
      setDeleting(false);
    }
  };
  const stop = async () => {
    setStopping(true);
    try {
      await actions.stop(session.id);
    } catch (err) {
      notify(messageOf(err), "error");
    } finally {
      setStopping(false);
    }
  };
  return (
    <div className="side-panel-head session-head">
      <span
        className={`sess-chip chip-${session.status}`}
        title={STATUS_TITLE[session.status]}
        data-testid="session-status"
      >
        {STATUS_LABEL[session.status]}
      </span>
      {renaming ? (
        <InlineEdit
          value={session.title}
          label="Session title"
          onDone={(t) => {
            setRenaming(false);
            if (t !== session.title) actions.rename(session.id, t).catch((err) => notify(messageOf(err), "error"));
          }}
          onCancel={() => setRenaming(false)}
        />
      ) : (
        <h2
          className="session-title"
          title={canEdit ? "Double-click to rename" : session.title}
          onDoubleClick={canEdit ? () => setRenaming(true) : undefined}
          data-testid="session-title"
        >
          {session.title || "Untitled session"}
        </h2>
      )}
      {busy && (
        <button
          type="button"
          className="btn btn-small btn-danger"
          disabled={!canEdit || stopping}
          title={canEdit ? "Stop the agent now (the model call and any running tool)" : VIEWER_WHY}
          onClick={() => void stop()}
          data-testid="session-stop"
        >
          {stopping ? "Stopping…" : "Stop"}
        </button>
      )}
      {canEdit && (
        <button
          type="button"
          className="icon-btn"
          onClick={() => void remove()}
          disabled={deleting}
          aria-label="Delete session"
          title="Delete this session"
          data-testid="session-delete"
        >
          <TrashIcon />
        </button>
      )}
      <button
        type="button"
        className="icon-btn"
        onClick={onClose}
        aria-label="Close session"
        data-testid="session-close"
      >
        <CloseIcon />
      </button>
    </div>
  );
}

function PanelMeta({ session, disabledWhy }: { session: Session; disabledWhy: string | null }) {
  const { actions } = useSessions();
  const tokens = totalTokens(session.usage);
  const meter = contextMeter(session);
  const setMode = (m: PermissionMode) => actions.setMode(session.id, m).catch((err) => notify(messageOf(err), "error"));
  const runner = useWorktreeRunner(session.worktreeId);
  const rt = runtimeChoice(runner, session.runtime);
  const modeNote = session.runtime === "codex" ? codexModeNote(session.permissionMode, runner) : null;
  return (
    <div className="session-meta small">
      <span
        className="session-runtime"
        title={rt.ok ? runtimeNote(session.runtime, session.permissionMode, runner).about : rt.reason}
        data-testid="session-runtime"
        data-runtime={session.runtime}
      >
        {runtimeLabel(session.runtime, rt.ok ? rt.version : undefined)}
      </span>
      <span className="session-model" title={PROVIDER_LABELS[session.provider]} data-testid="session-model">
        {session.model}
        {session.baseUrl && <span className="muted"> @ {session.baseUrl}</span>}
      </span>
      <select
        className="session-mode"
        value={session.permissionMode}
        disabled={!!disabledWhy}
        title={disabledWhy ?? "Permission mode: applies from the agent's next tool call, also while it runs"}
        onChange={(e) => void setMode(e.target.value as PermissionMode)}
        data-testid="session-mode-select"
      >
        {PERMISSION_MODES.map((m) => (
          <option key={m} value={m} title={PERMISSION_MODE_LABELS[m]}>
            {m}
          </option>
        ))}
      </select>
      <SessionMcpMenu session={session} disabledWhy={disabledWhy} />
      <SessionHostsMenu session={session} disabledWhy={disabledWhy} />
      <span title={usageTitle(session.usage)} data-testid="session-tokens">
        {formatTokens(tokens)} tokens
      </span>
      <span title={costTitle(session.costMicros, session.unpriced)} data-testid="session-cost">
        {costLabel(session.costMicros, session.unpriced)}
      </span>
      {meter.window && meter.used > 0 && (
        <span
          className="ctx-meter"
          title={`Context: ${meter.used.toLocaleString()} of ${meter.window.toLocaleString()} tokens`}
        >
          <span className="ctx-bar" style={{ width: `${Math.round((meter.fraction ?? 0) * 100)}%` }} />
        </span>
      )}
      {session.queued > 0 && <span className="muted">{session.queued} queued</span>}
      <SessionExtras session={session} />
      {modeNote && (
        <span className="session-mode-note" data-testid="session-mode-note">
          {modeNote}
        </span>
      )}
    </div>
  );
}

function Todos({ todos }: { todos: readonly Todo[] }) {
  const done = todos.filter((t) => t.status === "done").length;
  return (
    <details className="todos" open data-testid="todos">
      <summary className="small">
        Agent's todo list · {done}/{todos.length} done
      </summary>
      <ul>
        {todos.map((t, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the agent rewrites its whole list each time
          <li key={i} className={`todo todo-${t.status}`} data-testid="todo" data-status={t.status}>
            <span className="todo-mark" aria-hidden="true">
              {t.status === "done" ? "✓" : t.status === "in_progress" ? "▸" : "○"}
            </span>
            {t.text}
          </li>
        ))}
      </ul>
    </details>
  );
}

function SpawnForm({ session, onDone }: { session: Session; onDone: () => void }) {
  const { actions } = useSessions();
  const [prompt, setPrompt] = useState("");
  const [title, setTitle] = useState("");
  const { busy, error, run } = useSubmit();
  return (
    <form
      className="spawn"
      data-testid="spawn-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!prompt.trim()) return;
        void run(async () => {
          await actions.spawn(session.id, { prompt, ...(title.trim() ? { title: title.trim() } : {}) });
          onDone();
        });
      }}
    >
      <div className="small muted">
        A child session in this worktree, running alongside; its final answer comes back here as a message.
      </div>
      <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Title (optional)" />
      <textarea
        // biome-ignore lint/a11y/noAutofocus: the prompt is what the person opened this to type
        autoFocus
        value={prompt}
        onChange={(e) => setPrompt(e.target.value)}
        rows={2}
        placeholder="What the child should do"
        data-testid="spawn-prompt"
      />
      <div className="dialog-actions">
        <button type="button" className="btn btn-small" onClick={onDone}>
          Cancel
        </button>
        <button
          type="submit"
          className="btn btn-small btn-primary"
          disabled={busy || !prompt.trim()}
          data-testid="spawn-confirm"
        >
          Spawn
        </button>
      </div>
      {error && (
        <div className="error small" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}
