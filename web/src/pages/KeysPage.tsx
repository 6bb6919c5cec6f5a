import { type FormEvent, useEffect, useState } from "react";
import {
  ApiKeyValue,
  EnvName,
  HttpUrl,
  KEY_PROVIDER_LABELS,
  KEY_PROVIDERS,
  type KeyProvider,
  SecretValue,
  type User,
  type UserSecret,
} from "../../../protocol/index.ts";
import { api, expectOk, messageOf, unwrap } from "../lib/api.ts";
import { ago, fullDate } from "../lib/format.ts";
import { problem } from "../lib/problems.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { confirm } from "../ui/confirm.tsx";
import { notify } from "../ui/notices.tsx";
import { Shell } from "../ui/Shell.tsx";

const KEY_HINTS: Record<KeyProvider, string> = {
  anthropic: "Used by your Anthropic sessions.",
  openai: "Sent to OpenAI itself, never to another server.",
  "openai-compatible": "Sent only to this base URL (Ollama, vLLM, a gateway). The key is optional.",
};

/** What the list shows of a value: its last four, or nothing of a short one. */
const masked = (s: UserSecret) => (s.last4 ? `•••• ${s.last4}` : "••••");

/**
 * The signed-in person's own provider keys and environment variables. A session uses its
 * prompter's key instead of the runner's; the variables reach the agent's shell. Values are never
 * shown again after saving.
 */
export function KeysPage({ user }: { user: User }) {
  const [items, setItems] = useState<UserSecret[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    unwrap(api.api.me.secrets.$get())
      .then((r) => setItems(r.items))
      .catch((err) => setError(messageOf(err)));
  }, []);

  const saved = (s: UserSecret) =>
    setItems((list) => [...(list ?? []).filter((x) => !(x.kind === s.kind && x.name === s.name)), s]);
  const removed = (kind: UserSecret["kind"], name: string) =>
    setItems((list) => list?.filter((x) => !(x.kind === kind && x.name === name)) ?? null);

  const keys = new Map((items ?? []).filter((s) => s.kind === "key").map((s) => [s.name, s]));
  const env = (items ?? []).filter((s) => s.kind === "env").sort((a, b) => a.name.localeCompare(b.name));

  return (
    <Shell user={user}>
      <div className="page-head">
        <div>
          <h1>Keys &amp; environment</h1>
          <p className="muted">
            Your own keys and variables, encrypted on the server. Only the runner running a task you prompted receives
            them; nobody, you included, can read a value back after saving.
          </p>
        </div>
      </div>
      {error && <div className="error">{error}</div>}
      {items && (
        <>
          <h2 className="section-title">Provider keys</h2>
          <p className="muted small">A session you prompt uses your key; without one, the runner's own.</p>
          <table className="table" data-testid="key-list">
            <tbody>
              {KEY_PROVIDERS.map((p) => (
                <KeyRow key={p} provider={p} secret={keys.get(p)} onSaved={saved} onRemoved={removed} />
              ))}
            </tbody>
          </table>
          <h2 className="section-title">Environment variables</h2>
          <p className="muted small">
            Set in the shell of your agents' commands (for example GITHUB_TOKEN). Names like PATH or NODE_OPTIONS are
            refused.
          </p>
          <AddEnvVar onSaved={saved} />
          {env.length === 0 ? (
            <p className="muted empty-line">No variables yet.</p>
          ) : (
            <table className="table" data-testid="env-list">
              <tbody>
                {env.map((s) => (
                  <EnvRow key={s.name} secret={s} onSaved={saved} onRemoved={removed} />
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Shell>
  );
}

interface RowProps {
  onSaved: (s: UserSecret) => void;
  onRemoved: (kind: UserSecret["kind"], name: string) => void;
}

async function removeSecret(kind: UserSecret["kind"], name: string, label: string, onRemoved: RowProps["onRemoved"]) {
  const ok = await confirm({
    title: `Delete ${label}?`,
    body: "Tasks you prompt from now on go without it.",
    confirmLabel: "Delete",
  });
  if (!ok) return;
  try {
    await expectOk(
      kind === "key"
        ? api.api.me.secrets.keys[":provider"].$delete({ param: { provider: name as KeyProvider } })
        : api.api.me.secrets.env[":name"].$delete({ param: { name } }),
    );
    onRemoved(kind, name);
  } catch (err) {
    notify(messageOf(err), "error");
  }
}

function Updated({ s }: { s: UserSecret }) {
  return (
    <span className="muted small" title={fullDate(s.updatedAt)}>
      saved {ago(s.updatedAt)}
    </span>
  );
}

function KeyRow({ provider, secret, onSaved, onRemoved }: RowProps & { provider: KeyProvider; secret?: UserSecret }) {
  const [editing, setEditing] = useState(false);
  const label = KEY_PROVIDER_LABELS[provider];
  return (
    <tr data-testid={`key-${provider}`}>
      <td>
        <div className="strong">{label}</div>
        <div className="muted small">{KEY_HINTS[provider]}</div>
        {editing && (
          <KeyForm
            provider={provider}
            baseUrl={secret?.baseUrl ?? ""}
            onDone={(s) => {
              setEditing(false);
              if (s) onSaved(s);
            }}
          />
        )}
      </td>
      <td>
        {secret ? (
          <>
            <code data-testid="key-last4">
              {provider === "openai-compatible" && !secret.last4 ? "no key" : masked(secret)}
            </code>
            {secret.baseUrl && <div className="muted small">{secret.baseUrl}</div>}
            <Updated s={secret} />
          </>
        ) : (
          <span className="muted">not set</span>
        )}
      </td>
      <td className="right">
        {!editing && (
          <div className="row-actions">
            <button type="button" className="btn btn-small" onClick={() => setEditing(true)}>
              {secret ? "Replace" : "Add"}
            </button>
            {secret && (
              <button
                type="button"
                className="btn btn-small btn-ghost-danger"
                onClick={() => removeSecret("key", provider, `your ${label} key`, onRemoved)}
              >
                Delete
              </button>
            )}
          </div>
        )}
      </td>
    </tr>
  );
}

function KeyForm({
  provider,
  baseUrl: initialUrl,
  onDone,
}: {
  provider: KeyProvider;
  baseUrl: string;
  onDone: (s: UserSecret | null) => void;
}) {
  const [apiKey, setApiKey] = useState("");
  const [baseUrl, setBaseUrl] = useState(initialUrl);
  const { busy, error, run } = useSubmit();
  const compatible = provider === "openai-compatible";
  const keyProblem = apiKey ? problem(ApiKeyValue, apiKey, "The key") : null;
  const urlProblem = compatible && baseUrl ? problem(HttpUrl, baseUrl, "The base URL") : null;
  const ready = (compatible ? !!baseUrl.trim() : !!apiKey.trim()) && !keyProblem && !urlProblem;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const json = compatible ? { baseUrl, ...(apiKey ? { apiKey } : {}) } : { apiKey };
      onDone(await unwrap(api.api.me.secrets.keys[":provider"].$put({ param: { provider }, json })));
    });
  };

  return (
    <form className="inline-form secret-form" onSubmit={submit} data-testid={`key-form-${provider}`}>
      {compatible && (
        <input
          placeholder="Base URL, e.g. http://localhost:11434/v1"
          value={baseUrl}
          onChange={(e) => setBaseUrl(e.target.value)}
          aria-label="Base URL"
          aria-invalid={!!urlProblem}
          data-testid="key-base-url"
        />
      )}
      <input
        type="password"
        autoComplete="off"
        placeholder={compatible ? "Key (optional)" : "Paste the key"}
        value={apiKey}
        onChange={(e) => setApiKey(e.target.value)}
        aria-label="Key"
        aria-invalid={!!keyProblem}
        data-testid="key-value"
      />
      <button type="submit" className="btn btn-primary" disabled={busy || !ready} data-testid="save-key">
        Save
      </button>
      <button type="button" className="btn btn-ghost" onClick={() => onDone(null)}>
        Cancel
      </button>
      {(keyProblem || urlProblem) && <div className="field-error small">{keyProblem ?? urlProblem}</div>}
      {error && <div className="error small">{error}</div>}
    </form>
  );
}

function AddEnvVar({ onSaved }: Pick<RowProps, "onSaved">) {
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const { busy, error, run } = useSubmit();
  const nameProblem = name ? problem(EnvName, name, "The name") : null;
  const valueProblem = value ? problem(SecretValue, value, "The value") : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      onSaved(await unwrap(api.api.me.secrets.env[":name"].$put({ param: { name }, json: { value } })));
      setName("");
      setValue("");
    });
  };

  return (
    <form className="inline-form secret-form" onSubmit={submit} data-testid="env-form">
      <input
        placeholder="NAME"
        value={name}
        onChange={(e) => setName(e.target.value)}
        aria-label="Variable name"
        aria-invalid={!!nameProblem}
        spellCheck={false}
        data-testid="env-name"
      />
      <input
        type="password"
        autoComplete="off"
        placeholder="Value"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        aria-label="Variable value"
        aria-invalid={!!valueProblem}
        data-testid="env-value"
      />
      <button
        type="submit"
        className="btn btn-primary"
        disabled={busy || !name || !value || !!nameProblem || !!valueProblem}
        data-testid="save-env"
      >
        Save variable
      </button>
      {(nameProblem || valueProblem) && <div className="field-error small">{nameProblem ?? valueProblem}</div>}
      {error && <div className="error small">{error}</div>}
    </form>
  );
}

function EnvRow({ secret, onSaved, onRemoved }: RowProps & { secret: UserSecret }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState("");
  const { busy, error, run } = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      onSaved(await unwrap(api.api.me.secrets.env[":name"].$put({ param: { name: secret.name }, json: { value } })));
      setEditing(false);
      setValue("");
    });
  };
  return (
    <tr data-testid="env-row">
      <td>
        <code className="strong">{secret.name}</code>
        {editing && (
          <form className="inline-form secret-form" onSubmit={submit}>
            <input
              type="password"
              autoComplete="off"
              placeholder="New value"
              value={value}
              onChange={(e) => setValue(e.target.value)}
              aria-label={`New value of ${secret.name}`}
            />
            <button type="submit" className="btn btn-primary" disabled={busy || !value}>
              Save
            </button>
            <button type="button" className="btn btn-ghost" onClick={() => setEditing(false)}>
              Cancel
            </button>
            {error && <div className="error small">{error}</div>}
          </form>
        )}
      </td>
      <td>
        <code>{masked(secret)}</code> <Updated s={secret} />
      </td>
      <td className="right">
        {!editing && (
          <div className="row-actions">
            <button type="button" className="btn btn-small" onClick={() => setEditing(true)}>
              Replace
            </button>
            <button
              type="button"
              className="btn btn-small btn-ghost-danger"
              onClick={() => removeSecret("env", secret.name, secret.name, onRemoved)}
            >
              Delete
            </button>
          </div>
        )}
      </td>
    </tr>
  );
}
