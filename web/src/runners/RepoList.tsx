import { type FormEvent, useState } from "react";
import type { Repo, Runner } from "../../../protocol/index.ts";
import { ago, fullDate, useNow } from "../lib/format.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { BranchIcon, FolderIcon, PlusIcon, RefreshIcon, Spinner } from "../ui/icons.tsx";
import type { RunnerStore } from "./store.ts";

/** The server's URL rule (protocol `RepoSource`): anything else is taken as a path on the runner. */
const looksLikeUrl = (s: string) => /^(https?:\/\/|ssh:\/\/|git@[^:]+:|file:\/\/)/.test(s);

export function RepoList({ runner, store, canUse }: { runner: Runner; store: RunnerStore; canUse: boolean }) {
  const repos = useStore(store.repos).get(runner.id);
  const fetching = useStore(store.fetching);
  const now = useNow();
  const [adding, setAdding] = useState(false);

  return (
    <div className="repos" data-testid="repos">
      {!repos && (
        <div className="muted small">
          <Spinner /> Loading repos…
        </div>
      )}
      {repos?.length === 0 && !adding && (
        <div className="muted small">
          No repos on this runner yet. Add one from a folder on that machine or a git URL.
        </div>
      )}
      {repos && repos.length > 0 && (
        <ul className="repo-list">
          {repos.map((r) => (
            <RepoRow
              key={r.id}
              repo={r}
              now={now}
              canUse={canUse}
              fetching={fetching.has(r.id)}
              onFetch={() => void store.fetchRepo(runner.id, r.id)}
              onRetry={() => store.retryRepo(runner.id, r.id)}
              onRemove={() => store.removeRepo(runner.id, r.id)}
            />
          ))}
        </ul>
      )}
      {canUse &&
        (adding ? (
          <AddRepoForm runner={runner} store={store} onDone={() => setAdding(false)} />
        ) : (
          <button
            type="button"
            className="btn btn-small"
            onClick={() => setAdding(true)}
            disabled={runner.status === "pending"}
            title={runner.status === "pending" ? "Register the runner first" : undefined}
            data-testid="add-repo"
          >
            <PlusIcon /> Add repo
          </button>
        ))}
    </div>
  );
}

function RepoRow({
  repo,
  now,
  canUse,
  fetching,
  onFetch,
  onRetry,
  onRemove,
}: {
  repo: Repo;
  now: number;
  canUse: boolean;
  fetching: boolean;
  onFetch: () => void;
  onRetry: () => Promise<void>;
  onRemove: () => Promise<void>;
}) {
  const where = repo.path ?? (repo.source.kind === "path" ? repo.source.path : repo.source.url);
  const { busy, error, run } = useSubmit();
  const [confirming, setConfirming] = useState(false);
  return (
    <li className="repo" data-testid="repo" data-name={repo.name} data-status={repo.status}>
      <div className="repo-head">
        <span className="strong ellipsis">{repo.name}</span>
        <span className={`pill pill-${repo.status}`} data-testid="repo-status">
          {repo.status === "adding" && <Spinner size={10} />}
          {repo.status === "adding" ? (repo.source.kind === "url" ? "cloning" : "adding") : repo.status}
        </span>
        <span className="spacer" />
        {canUse && repo.status === "ready" && (
          <button
            type="button"
            className="btn btn-small btn-ghost"
            onClick={onFetch}
            disabled={fetching}
            title="git fetch from its remotes"
            data-testid="repo-fetch"
          >
            {fetching ? <Spinner /> : <RefreshIcon />} {fetching ? "Fetching…" : "Fetch"}
          </button>
        )}
        {canUse && repo.status === "error" && (
          <button
            type="button"
            className="btn btn-small btn-ghost"
            onClick={() => void run(onRetry)}
            disabled={busy}
            title="Add it again"
            data-testid="repo-retry"
          >
            <RefreshIcon /> Retry
          </button>
        )}
        {canUse &&
          (confirming ? (
            <>
              <button
                type="button"
                className="btn btn-small btn-ghost-danger"
                onClick={() => void run(onRemove).then(() => setConfirming(false))}
                disabled={busy}
                data-testid="repo-remove-confirm"
              >
                Remove from runner
              </button>
              <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </>
          ) : (
            <button
              type="button"
              className="btn btn-small btn-ghost"
              onClick={() => setConfirming(true)}
              disabled={busy}
              title="Remove this repo from the runner's list"
              data-testid="repo-remove"
            >
              Remove
            </button>
          ))}
      </div>
      {confirming && (
        <p className="small muted" data-testid="repo-remove-note">
          {repo.source.kind === "url"
            ? "The runner forgets it and deletes the clone it made in its data folder."
            : "The runner forgets it; the folder on its machine stays exactly as it is."}{" "}
          Repos that cards use cannot be removed until those cards are deleted.
        </p>
      )}
      {error && (
        <div className="error small" role="alert" data-testid="repo-action-error">
          {error}
        </div>
      )}
      <div className="repo-meta small muted">
        {repo.defaultBranch && (
          <span title="Default branch">
            <BranchIcon /> {repo.defaultBranch}
          </span>
        )}
        {repo.status === "ready" && (
          <span title={repo.lastFetchedAt ? fullDate(repo.lastFetchedAt) : undefined}>
            {repo.lastFetchedAt ? `fetched ${ago(repo.lastFetchedAt, now)}` : "never fetched"}
          </span>
        )}
        <span className="ellipsis repo-where" title={where}>
          <FolderIcon /> {where}
        </span>
      </div>
      {repo.error && (
        <pre className="git-error" data-testid="repo-error">
          {repo.error}
        </pre>
      )}
    </li>
  );
}

function AddRepoForm({ runner, store, onDone }: { runner: Runner; store: RunnerStore; onDone: () => void }) {
  const [where, setWhere] = useState("");
  const [name, setName] = useState("");
  const { busy, error, run } = useSubmit();
  const value = where.trim();
  const isUrl = looksLikeUrl(value);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await store.addRepo(
        runner.id,
        isUrl ? { kind: "url", url: value } : { kind: "path", path: value },
        name.trim() || undefined,
      );
      onDone();
    });
  };

  return (
    <form className="add-repo" onSubmit={submit} data-testid="add-repo-form">
      <label className="field">
        <span>Folder on {runner.name}, or a git URL</span>
        <input
          // biome-ignore lint/a11y/noAutofocus: the form opens on purpose for this field
          autoFocus
          placeholder="~/code/my-app  or  https://github.com/org/repo.git"
          value={where}
          onChange={(e) => setWhere(e.target.value)}
          maxLength={2000}
          required
          spellCheck={false}
          data-testid="repo-source"
        />
        <small className="muted">
          {!value
            ? "A folder is used in place; a URL is cloned into the runner's data folder."
            : isUrl
              ? "Will be cloned into the runner's data folder."
              : "An existing git repo on that machine, used in place."}
        </small>
      </label>
      <label className="field">
        <span>
          Name <span className="muted">(optional)</span>
        </span>
        <input
          placeholder="from the folder or URL"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={100}
          spellCheck={false}
          data-testid="repo-name"
        />
      </label>
      {error && (
        <div className="error small" role="alert" data-testid="repo-add-error">
          {error}
        </div>
      )}
      <div className="row-actions">
        <button type="button" className="btn btn-small btn-ghost" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="btn btn-small btn-primary" disabled={busy || !value} data-testid="repo-add">
          {busy ? "Adding…" : "Add repo"}
        </button>
      </div>
    </form>
  );
}
