import { type FormEvent, useState } from "react";
import { CreateMcpServerBody, type McpServer, PatchMcpServerBody, type SecretHint } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { confirm } from "../ui/confirm.tsx";
import { CloseIcon, PencilIcon, PlusIcon, TrashIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import type { McpServers } from "./store.ts";

/**
 * The board's MCP servers: what each runs or reaches, the names of its secrets (the last four
 * characters at most: the values never come back), who added it. Members add, edit and remove
 * them; sessions pick them when they start, or later from their panel, and keep them through an
 * edit (the id stays).
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
          <McpServerForm store={store} onDone={() => setAdding(false)} />
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
  const [editing, setEditing] = useState(false);
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
  const who = (id: string, name: string | null) => (id === meId ? "you" : (name ?? "a former member"));
  const secrets = s.transport === "stdio" ? s.env : s.headers;
  if (editing) {
    return (
      <li className="runner mcp-server" data-testid="mcp-server" data-name={s.name} data-editing="true">
        <McpServerForm store={store} editing={s} onDone={() => setEditing(false)} />
      </li>
    );
  }
  return (
    <li className="runner mcp-server" data-testid="mcp-server" data-name={s.name} data-server-id={s.id}>
      <div className="runner-head">
        <div className="runner-who">
          <span className="strong">{s.name}</span>
          <span className="muted small">
            added by {who(s.createdBy, s.createdByName)}
            {s.editedBy && s.editedBy !== s.createdBy && <>, changed by {who(s.editedBy, s.editedByName)}</>}
          </span>
        </div>
        <span className="role" title={s.transport === "stdio" ? "Runs a command on the runner" : "Streamable HTTP"}>
          {s.transport}
        </span>
        {canEdit && (
          <button
            type="button"
            className="icon-btn"
            onClick={() => setEditing(true)}
            aria-label={`Edit ${s.name}`}
            title="Edit"
            data-testid="mcp-edit"
          >
            <PencilIcon />
          </button>
        )}
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

/** A row of env variables or headers; `saved` when it is a secret already stored (its value stays unless typed over). */
type Pair = { name: string; value: string; saved?: SecretHint };

const savedPairs = (hints: SecretHint[]): Pair[] => hints.map((h) => ({ name: h.name, value: "", saved: h }));

/**
 * Add a server, or edit one (`editing`): the same fields, filled in. An edit keeps the transport
 * and sends only what changed; a saved secret left blank keeps its value, one removed is deleted.
 */
function McpServerForm({ store, editing, onDone }: { store: McpServers; editing?: McpServer; onDone: () => void }) {
  const [transport, setTransport] = useState<"stdio" | "http">(editing?.transport ?? "stdio");
  const [name, setName] = useState(editing?.name ?? "");
  const [command, setCommand] = useState(editing?.command ?? "");
  const [args, setArgs] = useState((editing?.args ?? []).join("\n"));
  const [url, setUrl] = useState(editing?.url ?? "");
  const [env, setEnv] = useState<Pair[]>(savedPairs(editing?.env ?? []));
  const [headers, setHeaders] = useState<Pair[]>(savedPairs(editing?.headers ?? []));
  const { busy, error, setError, run } = useSubmit();

  const argList = () => args.split("\n").filter((a) => a.trim() !== "");
  const pairs = (list: Pair[]) =>
    Object.fromEntries(list.filter((p) => p.name.trim()).map((p) => [p.name.trim(), p.value]));
  /** What an edit changes of the secrets: typed values, and null for each saved one removed. */
  const secretChanges = (list: Pair[], saved: SecretHint[]) => {
    const changes: Record<string, string | null> = {};
    for (const h of saved) if (!list.some((p) => p.saved?.name === h.name)) changes[h.name] = null;
    for (const p of list) if (p.name.trim() && (!p.saved || p.value !== "")) changes[p.name.trim()] = p.value;
    return Object.keys(changes).length ? changes : undefined;
  };
  const fail = (issues: { path: PropertyKey[]; message: string }[]) => {
    const issue = issues[0];
    setError(`${issue?.path.join(" ") || "The server"}: ${issue?.message ?? "is not valid"}.`);
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (editing) {
      const patch: PatchMcpServerBody = {};
      if (name.trim() !== editing.name) patch.name = name.trim();
      if (editing.transport === "stdio") {
        if (command.trim() !== editing.command) patch.command = command.trim();
        if (JSON.stringify(argList()) !== JSON.stringify(editing.args)) patch.args = argList();
        patch.env = secretChanges(env, editing.env);
      } else {
        if (url.trim() !== editing.url) patch.url = url.trim();
        patch.headers = secretChanges(headers, editing.headers);
      }
      const changed = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      if (!Object.keys(changed).length) return onDone();
      const checked = PatchMcpServerBody.safeParse(changed);
      if (!checked.success) return fail(checked.error.issues);
      void run(async () => {
        await store.edit(editing.id, checked.data);
        onDone();
      });
      return;
    }
    const body: CreateMcpServerBody =
      transport === "stdio"
        ? { transport, name: name.trim(), command: command.trim(), args: argList(), env: pairs(env) }
        : { transport, name: name.trim(), url: url.trim(), headers: pairs(headers) };
    // The edge's own schema first, so the message names the field; the edge has the last word.
    const checked = CreateMcpServerBody.safeParse(body);
    if (!checked.success) return fail(checked.error.issues);
    void run(async () => {
      await store.add(checked.data);
      onDone();
    });
  };

  return (
    <form
      className="invite mcp-add"
      onSubmit={submit}
      noValidate
      data-testid={editing ? "mcp-edit-form" : "mcp-add-form"}
    >
      {!editing && (
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
      )}
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
            It runs on the session's runner, no shell, only if that runner's owner added it (and was the last to change
            it), or turned on “Run board members' stdio MCP servers” on that runner. Otherwise the transcript says why
            it did not start.
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
      <div className="small muted">
        Values are stored encrypted; once saved only their last four characters show.
        {editing && " Leave a saved one blank to keep it."}
      </div>
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
          {editing ? (busy ? "Saving…" : "Save") : busy ? "Adding…" : "Add server"}
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
            readOnly={p.saved !== undefined}
            title={p.saved ? "A saved one: remove it and add another to rename it" : undefined}
            data-testid={`${testid}-name`}
          />
          <input
            type="password"
            value={p.value}
            onChange={(e) => set(i, { value: e.target.value })}
            placeholder={p.saved ? `${masked(p.saved)} (kept)` : "value"}
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
