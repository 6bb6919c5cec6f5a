import { type FormEvent, useState } from "react";
import { CreateMcpServerBody, type McpServer, type SecretHint } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { confirm } from "../ui/confirm.tsx";
import { CloseIcon, PlusIcon, TrashIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import type { McpServers } from "./store.ts";

/**
 * The board's MCP servers: what each runs or reaches, the names of its secrets (the last four
 * characters at most: the values never come back), who added it. Members add and remove them;
 * sessions pick them when they start, or later from their panel.
 */
export function McpServersPanel({
  store,
  meId,
  canEdit,
  onClose,
}: {
  store: McpServers;
  meId: string;
  canEdit: boolean;
  onClose: () => void;
}) {
  const rows = useStore(store.rows);
  const [adding, setAdding] = useState(false);
  return (
    <aside className="side-panel mcp-panel" data-testid="mcp-panel" aria-label="MCP servers">
      <div className="side-panel-head">
        <h2>MCP servers</h2>
        <button type="button" className="icon-btn" onClick={onClose} aria-label="Close MCP servers">
          <CloseIcon />
        </button>
      </div>
      <p className="muted small">
        Tools for this board's agents, as <code>server__tool</code>. A session uses the ones it picked, from its next
        prompt on; Trellis's own tools (<code>trellis</code>) it always has.
      </p>
      {canEdit &&
        (adding ? (
          <AddMcpServer store={store} onDone={() => setAdding(false)} />
        ) : (
          <button type="button" className="btn btn-small" onClick={() => setAdding(true)} data-testid="mcp-add">
            <PlusIcon /> Add a server
          </button>
        ))}
      <section className="panel-section">
        <h3>On this board</h3>
        {rows === null && <div className="skeleton-line" aria-busy="true" />}
        {rows?.length === 0 && (
          <p className="muted small" data-testid="no-mcp-servers">
            No MCP server yet. {canEdit ? "Add one above." : "A member can add one."}
          </p>
        )}
        <ul className="runner-list" data-testid="mcp-servers">
          {rows?.map((s) => (
            <McpServerItem key={s.id} server={s} store={store} meId={meId} canEdit={canEdit} />
          ))}
        </ul>
      </section>
    </aside>
  );
}

function McpServerItem({
  server: s,
  store,
  meId,
  canEdit,
}: {
  server: McpServer;
  store: McpServers;
  meId: string;
  canEdit: boolean;
}) {
  const [removing, setRemoving] = useState(false);
  const remove = async () => {
    const ok = await confirm({
      title: `Remove MCP server “${s.name}”?`,
      body: "Sessions that picked it go on without it from their next prompt. Its saved secrets are deleted.",
      confirmLabel: "Remove",
    });
    if (!ok) return;
    setRemoving(true);
    try {
      await store.remove(s.id);
    } catch (err) {
      notify(messageOf(err), "error");
      setRemoving(false);
    }
  };
  const secrets = s.transport === "stdio" ? s.env : s.headers;
  return (
    <li className="runner mcp-server" data-testid="mcp-server" data-name={s.name}>
      <div className="runner-head">
        <div className="runner-who">
          <span className="strong">{s.name}</span>
          <span className="muted small">
            added by {s.createdBy === meId ? "you" : (s.createdByName ?? "a former member")}
          </span>
        </div>
        <span className="role" title={s.transport === "stdio" ? "Runs a command on the runner" : "Streamable HTTP"}>
          {s.transport}
        </span>
        {canEdit && (
          <button
            type="button"
            className="icon-btn"
            onClick={() => void remove()}
            disabled={removing}
            aria-label={`Remove ${s.name}`}
            title="Remove"
            data-testid="mcp-remove"
          >
            <TrashIcon />
          </button>
        )}
      </div>
      <code className="mcp-target small" data-testid="mcp-target">
        {s.transport === "stdio" ? [s.command ?? "", ...s.args.map(quoteArg)].join(" ") : s.url}
      </code>
      {secrets.length > 0 && (
        <ul className="mcp-secrets small" data-testid="mcp-secrets">
          {secrets.map((h) => (
            <li key={h.name} data-testid="mcp-secret">
              <code>{h.name}</code> <span className="muted">{masked(h)}</span>
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

/** A saved secret as it can be shown: its end at most. */
export const masked = (h: SecretHint) => (h.last4 ? `••••${h.last4}` : "••••");

/** An argument as a shell would need it, so the line reads as what runs. */
const quoteArg = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

type Pair = { name: string; value: string };

function AddMcpServer({ store, onDone }: { store: McpServers; onDone: () => void }) {
  const [transport, setTransport] = useState<"stdio" | "http">("stdio");
  const [name, setName] = useState("");
  const [command, setCommand] = useState("");
  const [args, setArgs] = useState("");
  const [url, setUrl] = useState("");
  const [env, setEnv] = useState<Pair[]>([]);
  const [headers, setHeaders] = useState<Pair[]>([]);
  const { busy, error, setError, run } = useSubmit();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const pairs = (list: Pair[]) =>
      Object.fromEntries(list.filter((p) => p.name.trim()).map((p) => [p.name.trim(), p.value]));
    const body: CreateMcpServerBody =
      transport === "stdio"
        ? {
            transport,
            name: name.trim(),
            command: command.trim(),
            args: args.split("\n").filter((a) => a.trim() !== ""),
            env: pairs(env),
          }
        : { transport, name: name.trim(), url: url.trim(), headers: pairs(headers) };
    // The edge's own schema first, so the message names the field; the edge has the last word.
    const checked = CreateMcpServerBody.safeParse(body);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      setError(`${issue?.path.join(" ") || "The server"}: ${issue?.message ?? "is not valid"}.`);
      return;
    }
    void run(async () => {
      await store.add(checked.data);
      onDone();
    });
  };

  return (
    <form className="invite mcp-add" onSubmit={submit} noValidate data-testid="mcp-add-form">
      <fieldset className="mode">
        <legend>Transport</legend>
        {(["stdio", "http"] as const).map((t) => (
          <label key={t} className="radio">
            <input
              type="radio"
              name="mcp-transport"
              checked={transport === t}
              onChange={() => setTransport(t)}
              data-testid={`mcp-transport-${t}`}
            />
            <span>{t === "stdio" ? "Command (stdio)" : "URL (HTTP)"}</span>
          </label>
        ))}
      </fieldset>
      <label className="field">
        <span>Name</span>
        <input
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="github"
          spellCheck={false}
          autoComplete="off"
          data-testid="mcp-name"
        />
        <small className="muted">The agent sees its tools as name__tool.</small>
      </label>
      {transport === "stdio" ? (
        <>
          <label className="field">
            <span>Command</span>
            <input
              value={command}
              onChange={(e) => setCommand(e.target.value)}
              placeholder="npx"
              spellCheck={false}
              autoComplete="off"
              data-testid="mcp-command"
            />
          </label>
          <label className="field">
            <span>
              Arguments <span className="muted">(one per line)</span>
            </span>
            <textarea
              value={args}
              onChange={(e) => setArgs(e.target.value)}
              rows={2}
              placeholder={"-y\n@modelcontextprotocol/server-github"}
              spellCheck={false}
              data-testid="mcp-args"
            />
          </label>
          <Pairs label="Environment" what="variable" pairs={env} onChange={setEnv} testid="mcp-env" />
          <div className="small muted" data-testid="mcp-stdio-note">
            It runs on the session's runner, no shell, only if that runner's owner added it, or started the runner with{" "}
            <code>TRELLIS_MCP_BOARD_STDIO=1</code>. Otherwise the transcript says why it did not start.
          </div>
        </>
      ) : (
        <>
          <label className="field">
            <span>URL</span>
            <input
              type="url"
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              placeholder="https://mcp.example.com/mcp"
              spellCheck={false}
              data-testid="mcp-url"
            />
          </label>
          <Pairs label="Headers" what="header" pairs={headers} onChange={setHeaders} testid="mcp-header" />
          <div className="small muted" data-testid="mcp-http-note">
            The session's runner connects to it. A URL on that runner's own machine or private network (localhost, 10.x,
            192.168.x…) is reached only if the runner's owner added it, or started the runner with{" "}
            <code>TRELLIS_MCP_BOARD_LOCAL=1</code>.
          </div>
        </>
      )}
      <div className="small muted">Values are stored encrypted; once saved only their last four characters show.</div>
      {error && (
        <div className="error small" role="alert" data-testid="mcp-error">
          {error}
        </div>
      )}
      <div className="row-actions">
        <button type="button" className="btn btn-small" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="btn btn-small btn-primary" disabled={busy} data-testid="mcp-save">
          {busy ? "Adding…" : "Add server"}
        </button>
      </div>
    </form>
  );
}

/** NAME = value rows: env variables or headers. */
function Pairs({
  label,
  what,
  pairs,
  onChange,
  testid,
}: {
  label: string;
  what: string;
  pairs: Pair[];
  onChange: (p: Pair[]) => void;
  testid: string;
}) {
  const set = (i: number, p: Partial<Pair>) => onChange(pairs.map((q, j) => (j === i ? { ...q, ...p } : q)));
  return (
    <div className="field">
      <span>{label}</span>
      {pairs.map((p, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity beyond their place
        <div key={i} className="invite-row mcp-pair">
          <input
            value={p.name}
            onChange={(e) => set(i, { name: e.target.value })}
            placeholder="NAME"
            aria-label={`${what} name`}
            spellCheck={false}
            autoComplete="off"
            data-testid={`${testid}-name`}
          />
          <input
            type="password"
            value={p.value}
            onChange={(e) => set(i, { value: e.target.value })}
            placeholder="value"
            aria-label={`${what} value`}
            autoComplete="new-password"
            data-testid={`${testid}-value`}
          />
          <button
            type="button"
            className="icon-btn"
            onClick={() => onChange(pairs.filter((_, j) => j !== i))}
            aria-label={`Remove ${what}`}
          >
            <CloseIcon />
          </button>
        </div>
      ))}
      <button
        type="button"
        className="btn btn-small btn-ghost mcp-pair-add"
        onClick={() => onChange([...pairs, { name: "", value: "" }])}
        data-testid={`${testid}-add`}
      >
        <PlusIcon /> Add a {what}
      </button>
    </div>
  );
}
