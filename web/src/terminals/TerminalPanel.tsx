import "@xterm/xterm/css/xterm.css";
import { FitAddon } from "@xterm/addon-fit";
import { Terminal as XTerm } from "@xterm/xterm";
import { useEffect, useRef, useState } from "react";
import type { Runner, Terminal } from "../../../protocol/index.ts";
import { SCROLLBACK_LINES } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { useStore } from "../lib/store.ts";
import { Avatar } from "../ui/Avatar.tsx";
import { confirm } from "../ui/confirm.tsx";
import { notify } from "../ui/notices.tsx";
import { TerminalConnection, type TerminalStatus, TYPING_SHOWN_MS } from "./connection.ts";

const STATUS: Record<TerminalStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  "runner-offline": "Runner offline",
  reconnecting: "Reconnecting…",
  ended: "Ended",
  refused: "Closed",
};

const THEME = {
  background: "#0b1020",
  foreground: "#e2e8f0",
  cursor: "#c4b5fd",
  cursorAccent: "#0b1020",
  selectionBackground: "#6d28d966",
};

/**
 * A shared terminal: the shell in a worktree that everyone on this panel sees live. xterm renders
 * it (256 colours, Unicode, a scrollback, copy and paste); the connection keeps it attached through
 * reloads, network cuts and restarts of the runner or the edge. Only someone who may type sends
 * keys and sizes the shell; everyone else watches read-only.
 */
export default function TerminalPanel({
  terminal,
  worktreeName,
  runner,
  meId,
  onClose,
  onEnd,
}: {
  terminal: Terminal;
  worktreeName: string;
  runner: Runner | undefined;
  meId: string;
  onClose: () => void;
  onEnd: () => Promise<void>;
}) {
  const host = useRef<HTMLDivElement>(null);
  const [conn, setConn] = useState<TerminalConnection | null>(null);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const term = new XTerm({
      scrollback: SCROLLBACK_LINES * 2,
      fontFamily: 'ui-monospace, "SF Mono", "JetBrains Mono", Menlo, Consolas, monospace',
      fontSize: 13,
      cursorBlink: true,
      disableStdin: true,
      theme: THEME,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    const c = new TerminalConnection(terminal, {
      reset: (cols, rows) => {
        term.reset();
        term.resize(cols, rows);
      },
      resize: (cols, rows) => term.resize(cols, rows),
      write: (data, done) => term.write(data, done),
    });
    // Whoever types sizes the shell to their panel; the shell's size comes back to everyone.
    const propose = () => {
      const d = fit.proposeDimensions();
      if (d && Number.isFinite(d.cols) && Number.isFinite(d.rows)) c.resize(Math.max(2, d.cols), Math.max(1, d.rows));
    };
    const stopCanType = c.canType.subscribe(() => {
      term.options.disableStdin = !c.canType.get();
      propose();
    });
    const stopStatus = c.status.subscribe(() => {
      if (c.status.get() === "live") propose();
    });
    const data = term.onData((d) => c.input(d));
    // Ctrl+Shift+C / Ctrl+Shift+V copy and paste, as in a desktop terminal (Ctrl+C stays an interrupt).
    term.attachCustomKeyEventHandler((e) => {
      if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
      if (e.code === "KeyC") {
        const text = term.getSelection();
        if (text) void navigator.clipboard?.writeText(text).catch(() => {});
        return false;
      }
      if (e.code === "KeyV") {
        void navigator.clipboard
          ?.readText()
          .then((text) => term.paste(text))
          .catch(() => notify("The browser did not allow reading the clipboard: paste with the menu instead."));
        return false;
      }
      return true;
    });
    const observer = new ResizeObserver(() => propose());
    observer.observe(el);
    setConn(c);
    term.focus();
    return () => {
      observer.disconnect();
      stopCanType();
      stopStatus();
      data.dispose();
      c.close();
      term.dispose();
      setConn(null);
    };
  }, [terminal]);

  return (
    <section
      className="term-panel"
      data-testid="terminal-panel"
      data-terminal-id={terminal.id}
      aria-label={`Terminal ${terminal.name}`}
    >
      {conn ? (
        <Head
          conn={conn}
          terminal={terminal}
          worktreeName={worktreeName}
          runner={runner}
          meId={meId}
          onClose={onClose}
          onEnd={onEnd}
        />
      ) : (
        <header className="term-head" />
      )}
      <div className="term-body">
        <div className="term-screen" ref={host} data-testid="terminal-screen" />
        {conn && <Overlay conn={conn} onClose={onClose} />}
      </div>
    </section>
  );
}

function Head({
  conn,
  terminal,
  worktreeName,
  runner,
  meId,
  onClose,
  onEnd,
}: {
  conn: TerminalConnection;
  terminal: Terminal;
  worktreeName: string;
  runner: Runner | undefined;
  meId: string;
  onClose: () => void;
  onEnd: () => Promise<void>;
}) {
  const status = useStore(conn.status);
  const canType = useStore(conn.canType);
  const over = status === "ended" || status === "refused";
  const end = async () => {
    const ok = await confirm({
      title: `End terminal “${terminal.name}”?`,
      body: "The shell and everything running in it stop, for everyone watching. Closing the panel instead leaves it running.",
      confirmLabel: "End terminal",
    });
    if (!ok) return;
    try {
      await onEnd();
    } catch (err) {
      notify(messageOf(err), "error");
    }
  };
  const mine = !!runner && runner.ownerId === meId;
  return (
    <header className="term-head" data-status={status} data-can-type={canType ? "true" : "false"}>
      <span className="term-icon" aria-hidden="true">
        &gt;_
      </span>
      <div className="term-title">
        <span className="strong ellipsis" data-testid="terminal-name">
          {terminal.name}
          <span className="muted"> · {worktreeName}</span>
        </span>
        <span
          className="term-trust small"
          title="Whoever can type here can do anything that user can do on that machine."
        >
          A shell on {runner ? `“${runner.name}”` : "the runner's machine"}, as {mine ? "you" : "its owner"}.
        </span>
      </div>
      <span className={`term-status term-${status}`} data-testid="terminal-status" data-status={status}>
        {STATUS[status]}
      </span>
      <TypingNow conn={conn} meId={meId} />
      <span className="spacer" />
      <Viewers conn={conn} />
      {!canType && !over && (
        <span
          className="badge"
          data-testid="terminal-readonly"
          title="You can watch this terminal; only those who may type can type."
        >
          View only
        </span>
      )}
      {canType && !over && (
        <button
          type="button"
          className="btn btn-small btn-ghost-danger"
          onClick={() => void end()}
          data-testid="terminal-end"
        >
          End terminal
        </button>
      )}
      <button
        type="button"
        className="btn btn-small btn-ghost"
        onClick={onClose}
        title="Close the panel (the shell keeps running)"
        aria-label="Close the panel"
        data-testid="terminal-close"
      >
        ✕
      </button>
    </header>
  );
}

function Overlay({ conn, onClose }: { conn: TerminalConnection; onClose: () => void }) {
  const status = useStore(conn.status);
  const message = useStore(conn.message);
  if (status === "live") return null;
  const over = status === "ended" || status === "refused";
  return (
    <div className={`term-overlay${over ? " term-overlay-final" : ""}`} data-testid="terminal-overlay">
      {status === "ended" && (
        <p data-testid="terminal-ended">
          <strong>This terminal has ended.</strong> {message}
        </p>
      )}
      {status === "refused" && <p data-testid="terminal-refused">{message}</p>}
      {status === "runner-offline" && (
        <p>The runner is offline. The shell keeps running in tmux and is back when the runner reconnects.</p>
      )}
      {(status === "connecting" || status === "reconnecting") && <p>{STATUS[status]}</p>}
      {over && (
        <button type="button" className="btn btn-small" onClick={onClose}>
          Close panel
        </button>
      )}
    </div>
  );
}

function Viewers({ conn }: { conn: TerminalConnection }) {
  const viewers = useStore(conn.viewers);
  // One face per person, however many panels they have open.
  const people = [...new Map(viewers.map((v) => [v.userId, v])).values()];
  return (
    <div className="term-viewers" data-testid="terminal-viewers" data-count={people.length}>
      {people.slice(0, 6).map((v) => (
        <Avatar
          key={v.userId}
          name={v.name}
          color={v.color}
          size={22}
          title={`${v.name}${v.canType ? "" : " (watching)"}`}
        />
      ))}
    </div>
  );
}

function TypingNow({ conn, meId }: { conn: TerminalConnection; meId: string }) {
  const typing = useStore(conn.typing);
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!typing.length) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [typing]);
  const who = typing.filter((t) => t.userId !== meId && now - t.at < TYPING_SHOWN_MS);
  if (!who.length) return null;
  return (
    <span className="term-typing small" data-testid="terminal-typing">
      <span className="term-typing-dot" style={{ background: who[0]!.color }} />
      {who.map((t) => t.name).join(", ")} {who.length > 1 ? "are" : "is"} typing
    </span>
  );
}
