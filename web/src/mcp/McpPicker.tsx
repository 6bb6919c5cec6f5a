import { useState } from "react";
import type { McpServer, Session } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { useStore } from "../lib/store.ts";
import { useSessions } from "../sessions/context.ts";
import { notify } from "../ui/notices.tsx";
import { usePopover } from "../ui/usePopover.ts";

/**
 * Which of the board's MCP servers a session's agent gets: a checkbox each. Ids the session holds
 * for servers since removed are neither shown nor sent back.
 */
export function McpPicker({
  servers,
  value,
  onChange,
  disabled,
}: {
  servers: readonly McpServer[] | null;
  value: readonly string[];
  onChange: (ids: string[]) => void;
  disabled?: boolean;
}) {
  if (servers === null) return <div className="muted small">Loading the board's MCP servers…</div>;
  if (servers.length === 0)
    return (
      <div className="muted small" data-testid="mcp-pick-none">
        No MCP servers on this board yet: members add them from the board's MCP panel.
      </div>
    );
  const picked = new Set(value);
  const toggle = (id: string, on: boolean) =>
    onChange(servers.filter((s) => (s.id === id ? on : picked.has(s.id))).map((s) => s.id));
  return (
    <div className="mcp-pick" data-testid="mcp-pick">
      {servers.map((s) => (
        <label key={s.id} className="check" title={s.transport === "stdio" ? (s.command ?? "") : (s.url ?? "")}>
          <input
            type="checkbox"
            checked={picked.has(s.id)}
            disabled={disabled}
            onChange={(e) => toggle(s.id, e.target.checked)}
            data-testid="mcp-pick-item"
            data-name={s.name}
          />
          <span>{s.name}</span>
          <span className="muted small">{s.transport}</span>
        </label>
      ))}
    </div>
  );
}

/** The start-session dialog's field; `value` is what goes out as `mcpServerIds`. */
export function McpPickField({ value, onChange }: { value: string[]; onChange: (ids: string[]) => void }) {
  const { mcpServers } = useSessions();
  const servers = useStore(mcpServers.rows);
  return (
    <fieldset className="field span-2 mcp-pick-field">
      <legend>
        MCP servers <span className="muted">(optional)</span>
      </legend>
      <McpPicker servers={servers} value={value} onChange={onChange} />
    </fieldset>
  );
}

/**
 * The session panel's MCP menu: what the session picked, changed by a member, applied from its
 * next prompt (a running task keeps the servers it started with).
 */
export function SessionMcpMenu({ session, disabledWhy }: { session: Session; disabledWhy: string | null }) {
  const { mcpServers, actions } = useSessions();
  const servers = useStore(mcpServers.rows);
  const { open, setOpen, ref } = usePopover();
  // What was just asked for, shown until the edge's answer is the session's row (or it refused).
  const [pending, setPending] = useState<string[] | null>(null);
  const live = (servers ?? []).filter((s) => session.mcpServerIds.includes(s.id));
  const change = async (ids: string[]) => {
    setPending(ids);
    try {
      await actions.setMcpServers(session.id, ids);
    } catch (err) {
      notify(messageOf(err), "error");
    } finally {
      setPending(null);
    }
  };
  return (
    <div className="menu session-mcp" ref={ref}>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        onClick={() => setOpen((o) => !o)}
        aria-expanded={open}
        title={
          live.length ? `MCP servers: ${live.map((s) => s.name).join(", ")}` : "No MCP servers besides Trellis's own"
        }
        data-testid="session-mcp"
      >
        MCP{live.length > 0 ? ` · ${live.length}` : ""}
      </button>
      {open && (
        <div className="menu-popover session-mcp-popover" data-testid="session-mcp-menu">
          <McpPicker
            servers={servers}
            value={pending ?? session.mcpServerIds}
            onChange={(ids) => void change(ids)}
            disabled={!!disabledWhy || pending !== null}
          />
          <div className="muted small session-mcp-note">
            {disabledWhy ?? "Applies from the next prompt; a running task keeps the servers it started with."}
          </div>
        </div>
      )}
    </div>
  );
}
