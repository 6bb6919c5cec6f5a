import { type FormEvent, useEffect, useState } from "react";
import { type ApiToken, type CreatedApiToken, Name, type User } from "../../../protocol/index.ts";
import { api, expectOk, messageOf, unwrap } from "../lib/api.ts";
import { ago, fullDate } from "../lib/format.ts";
import { problem } from "../lib/problems.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { confirm } from "../ui/confirm.tsx";
import { CopyIcon } from "../ui/icons.tsx";
import { notify } from "../ui/notices.tsx";
import { Shell } from "../ui/Shell.tsx";

/** Personal API tokens for the CLI and MCP clients: shown once at creation, stored only as a hash. */
export function TokensPage({ user }: { user: User }) {
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedApiToken | null>(null);

  useEffect(() => {
    unwrap(api.api.tokens.$get())
      .then((r) => setTokens(r.items))
      .catch((err) => setError(messageOf(err)));
  }, []);

  const revoke = async (t: ApiToken) => {
    const ok = await confirm({
      title: `Revoke “${t.name}”?`,
      body: "Anything using this token stops working at once.",
      confirmLabel: "Revoke token",
    });
    if (!ok) return;
    try {
      await expectOk(api.api.tokens[":tokenId"].$delete({ param: { tokenId: t.id } }));
      setTokens((list) => list?.filter((x) => x.id !== t.id) ?? null);
      if (created?.id === t.id) setCreated(null);
    } catch (err) {
      notify(messageOf(err), "error");
    }
  };

  return (
    <Shell user={user}>
      <div className="page-head">
        <div>
          <h1>API tokens</h1>
          <p className="muted">
            For the CLI and MCP clients. Send one as <code>Authorization: Bearer …</code>; it acts as you.
          </p>
        </div>
      </div>
      <CreateToken
        onCreated={(t) => {
          setCreated(t);
          setTokens((list) => [t, ...(list ?? [])]);
        }}
      />
      {created && <RevealToken token={created} onDismiss={() => setCreated(null)} />}
      {error && <div className="error">{error}</div>}
      {tokens && tokens.length === 0 && <p className="muted empty-line">No tokens yet.</p>}
      {tokens && tokens.length > 0 && (
        <table className="table" data-testid="token-list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Created</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id} data-testid="token-row">
                <td className="strong">{t.name}</td>
                <td title={fullDate(t.createdAt)}>{ago(t.createdAt)}</td>
                <td title={t.lastUsedAt ? fullDate(t.lastUsedAt) : undefined}>
                  {t.lastUsedAt ? ago(t.lastUsedAt) : <span className="muted">never</span>}
                </td>
                <td className="right">
                  <button type="button" className="btn btn-small btn-ghost-danger" onClick={() => revoke(t)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Shell>
  );
}

function CreateToken({ onCreated }: { onCreated: (t: CreatedApiToken) => void }) {
  const [name, setName] = useState("");
  const { busy, error, run } = useSubmit();
  const tooLong = name.trim() ? problem(Name, name, "The name") : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      onCreated(await unwrap(api.api.tokens.$post({ json: { name } })));
      setName("");
    });
  };

  return (
    <form className="inline-form" onSubmit={submit}>
      <input
        placeholder="Token name, e.g. laptop CLI"
        value={name}
        onChange={(e) => setName(e.target.value)}
        aria-label="Token name"
        aria-invalid={!!tooLong}
        required
        data-testid="token-name"
      />
      <button
        type="submit"
        className="btn btn-primary"
        disabled={busy || !name.trim() || !!tooLong}
        data-testid="create-token"
      >
        Create token
      </button>
      {tooLong && <div className="field-error small">{tooLong}</div>}
      {error && <div className="error small">{error}</div>}
    </form>
  );
}

function RevealToken({ token, onDismiss }: { token: CreatedApiToken; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token.token);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      notify("Copy failed: select the token and copy it by hand.", "error");
    }
  };
  return (
    <div className="reveal" data-testid="token-reveal">
      <div className="reveal-head">
        <strong>“{token.name}” created.</strong> Copy it now: it will not be shown again.
      </div>
      <div className="reveal-row">
        <code className="reveal-token" data-testid="token-value">
          {token.token}
        </code>
        <button type="button" className="btn" onClick={copy} data-testid="copy-token">
          <CopyIcon /> {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onDismiss}>
          Done
        </button>
      </div>
    </div>
  );
}
