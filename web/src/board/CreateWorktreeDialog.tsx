import { type FormEvent, useEffect, useMemo, useRef, useState } from "react";
import { BranchName, CreateWorktreeBody, type Repo, type Runner, WorktreeName } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { problem } from "../lib/problems.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import type { RunnerStore } from "../runners/store.ts";
import { Spinner } from "../ui/icons.tsx";
import type { BoardActions } from "./actions.ts";
import { BranchModeField } from "./BranchModeField.tsx";
import { CARD, isCard, placeCard } from "./cards.ts";
import type { BoardEntities } from "./entities.ts";

const LAST_KEY = "trellis:last-repo";

/** Remember the last runner and repo per board: most people create many worktrees in one repo. */
function lastUsed(boardId: string): { runnerId?: string; repoId?: string } {
  try {
    return JSON.parse(localStorage.getItem(`${LAST_KEY}:${boardId}`) ?? "{}");
  } catch {
    return {};
  }
}

const order: Record<Runner["status"], number> = { online: 0, offline: 1, pending: 2, revoked: 3 };

/**
 * Create a worktree: where (runner and repo), what (name, a new branch from a base or an existing
 * branch) and why (issue link, notes). Every field is checked with the server's own protocol/ schema,
 * and against what the board already knows (the repo's branches, its cards' names and branches), so
 * what the server would refuse is said here first, in words; anything it still refuses (a branch
 * made since the repo was last fetched) is shown in its own words.
 */
export function CreateWorktreeDialog({
  boardId,
  at,
  placedBy,
  entities,
  store,
  actions,
  onClose,
  onOpenRunners,
}: {
  boardId: string;
  /** Top-left of the new card, in canvas coordinates. */
  at: { x: number; y: number };
  placedBy: "pointer" | "view";
  /** The cards already on the board: their names and branches are taken, and where they sit is not free. */
  entities: BoardEntities;
  store: RunnerStore;
  actions: BoardActions;
  onClose: () => void;
  onOpenRunners: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const nodes = useStore(entities.nodes);
  const runnersRaw = useStore(store.board);
  const reposByRunner = useStore(store.repos);
  const runners = useMemo(
    () =>
      [...(runnersRaw ?? [])].filter((r) => r.status !== "revoked").sort((a, b) => order[a.status] - order[b.status]),
    [runnersRaw],
  );
  const [remembered] = useState(() => lastUsed(boardId));
  const [runnerId, setRunnerId] = useState<string>("");
  const [repoId, setRepoId] = useState<string>("");
  const [name, setName] = useState("");
  const [mode, setMode] = useState<"new" | "existing">("new");
  const [branch, setBranch] = useState("");
  const [branchEdited, setBranchEdited] = useState(false);
  const [base, setBase] = useState("");
  const [existing, setExisting] = useState("");
  const [issueUrl, setIssueUrl] = useState("");
  const [notes, setNotes] = useState("");
  const [tried, setTried] = useState(false);
  const { busy, error, setError, run } = useSubmit();
  const [repoError, setRepoError] = useState<string | null>(null);

  useEffect(() => {
    ref.current?.showModal();
    store.loadBoard().catch((err) => setError(messageOf(err)));
  }, [store, setError]);

  // Pick a runner once the list is in: the one used last on this board, else the first online.
  useEffect(() => {
    if (runnerId || runners.length === 0) return;
    const pick = runners.find((r) => r.id === remembered.runnerId) ?? runners[0]!;
    setRunnerId(pick.id);
  }, [runners, runnerId, remembered.runnerId]);

  useEffect(() => {
    if (!runnerId) return;
    setRepoError(null);
    store.loadRepos(runnerId).catch((err) => setRepoError(messageOf(err)));
  }, [store, runnerId]);

  const repos = reposByRunner.get(runnerId);
  const usable = useMemo(() => repos?.filter((r) => r.status === "ready") ?? [], [repos]);
  const repo: Repo | undefined = usable.find((r) => r.id === repoId);

  useEffect(() => {
    if (repo || usable.length === 0) return;
    setRepoId((usable.find((r) => r.id === remembered.repoId) ?? usable[0]!).id);
  }, [usable, repo, remembered.repoId]);

  // The repo's default branch is the base unless the person picks another.
  useEffect(() => {
    if (!repo) return;
    setBase(repo.defaultBranch ?? repo.branches[0] ?? "");
    setExisting("");
  }, [repo]);

  /** Branches and names the repo's cards on this board already use (the server refuses both again). */
  const { inUse, names } = useMemo(() => {
    const inUse = new Map<string, string>();
    const names = new Set<string>();
    for (const n of nodes) {
      if (!isCard(n) || n.data.wt.repoId !== repoId) continue;
      inUse.set(n.data.wt.branch, n.data.wt.name);
      names.add(n.data.wt.name);
    }
    return { inUse, names };
  }, [nodes, repoId]);

  const branchValue = mode === "new" ? (branchEdited ? branch : name) : existing;
  const newBranch = branchValue.trim();
  const problems = {
    name:
      problem(WorktreeName, name, "The name") ??
      (names.has(name.trim()) ? `A worktree named “${name.trim()}” already exists in this repo.` : null),
    branch:
      mode === "new"
        ? (problem(BranchName, branchValue, "The branch name") ??
          (inUse.has(newBranch)
            ? `Branch “${newBranch}” is already checked out in worktree “${inUse.get(newBranch)}”.`
            : repo?.branches.includes(newBranch)
              ? `Branch “${newBranch}” already exists in ${repo.name}: choose “Existing branch” to check it out, or give the new branch another name.`
              : null))
        : existing
          ? null
          : "Pick a branch.",
    issueUrl: issueUrl.trim() ? problem(CreateWorktreeBody.shape.issueUrl, issueUrl.trim(), "The link") : null,
    notes: problem(CreateWorktreeBody.shape.notes, notes, "Notes"),
  };
  const invalid = Object.values(problems).some(Boolean);
  const runner = runners.find((r) => r.id === runnerId);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (invalid || !repo) return;
    void run(async () => {
      // In a zone the card takes a free slot inside it (a full zone grows a row); outside, it goes
      // where asked without covering another card.
      const spot = placeCard(nodes, at);
      if (spot.growZone) await actions.patchZone(spot.growZone.zoneId, { height: spot.growZone.height });
      await actions.createWorktree({
        repoId: repo.id,
        name: name.trim(),
        mode,
        branch: branchValue.trim(),
        ...(mode === "new" && base ? { baseBranch: base } : {}),
        ...(issueUrl.trim() ? { issueUrl: issueUrl.trim() } : {}),
        notes,
        x: Math.round(spot.x),
        y: Math.round(spot.y),
        zoneId: spot.zoneId,
      });
      try {
        localStorage.setItem(`${LAST_KEY}:${boardId}`, JSON.stringify({ runnerId, repoId: repo.id }));
      } catch {}
      onClose();
    });
  };

  const show = (field: keyof typeof problems, touched: boolean) =>
    (tried || touched) && problems[field] ? (
      <small className="field-error" data-testid={`problem-${field}`}>
        {problems[field]}
      </small>
    ) : null;

  const noRunner = runnersRaw !== null && runners.length === 0;
  const noRepo = !!repos && usable.length === 0;

  return (
    <dialog ref={ref} className="dialog dialog-wide" onClose={onClose} data-testid="create-worktree">
      <form onSubmit={submit} noValidate>
        <h2>New worktree</h2>
        <p className="muted small">
          A folder with its own branch on the runner's machine, for one piece of work. Its card goes{" "}
          {placedBy === "pointer" ? "where you clicked" : "in the middle of your view"}.
        </p>
        {noRunner ? (
          <div className="callout" data-testid="no-runner">
            No runner is shared with this board yet.{" "}
            <button
              type="button"
              className="link"
              onClick={() => {
                onClose();
                onOpenRunners();
              }}
            >
              Add or share a runner
            </button>{" "}
            first.
          </div>
        ) : (
          <div className="form-grid">
            <label className="field">
              <span>Runner</span>
              <select
                value={runnerId}
                onChange={(e) => {
                  setRunnerId(e.target.value);
                  setRepoId("");
                }}
                data-testid="wt-runner"
              >
                {runnersRaw === null && <option value="">Loading…</option>}
                {runners.map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.name} {r.status === "online" ? "" : `(${r.status})`}
                  </option>
                ))}
              </select>
              {runner && runner.status !== "online" && (
                <small className="muted">It is {runner.status}: the worktree is made when it connects.</small>
              )}
            </label>
            <label className="field">
              <span>Repo</span>
              <select
                value={repo?.id ?? ""}
                onChange={(e) => setRepoId(e.target.value)}
                disabled={!repos || noRepo}
                data-testid="wt-repo"
              >
                {!repos && <option value="">Loading…</option>}
                {noRepo && <option value="">No ready repo</option>}
                {usable.map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.name}
                  </option>
                ))}
              </select>
              {repoError && <small className="field-error">{repoError}</small>}
              {noRepo && (
                <small className="muted">
                  {repos?.some((r) => r.status === "adding") ? (
                    <>
                      <Spinner size={10} /> A repo is still being added…
                    </>
                  ) : (
                    <>
                      This runner has no ready repo.{" "}
                      <button
                        type="button"
                        className="link"
                        onClick={() => {
                          onClose();
                          onOpenRunners();
                        }}
                      >
                        Add one
                      </button>
                    </>
                  )}
                </small>
              )}
            </label>
            <label className="field span-2">
              <span>Name</span>
              <input
                autoFocus
                value={name}
                onChange={(e) => setName(e.target.value)}
                placeholder="fix-login-redirect"
                spellCheck={false}
                aria-invalid={!!(tried && problems.name)}
                data-testid="wt-name"
              />
              {show("name", name.length > 0)}
            </label>
            <BranchModeField mode={mode} onChange={setMode} testIdPrefix="wt" className="span-2" />
            {mode === "new" ? (
              <>
                <label className="field">
                  <span>New branch</span>
                  <input
                    value={branchValue}
                    onChange={(e) => {
                      setBranchEdited(true);
                      setBranch(e.target.value);
                    }}
                    placeholder="same as the name"
                    spellCheck={false}
                    data-testid="wt-branch"
                  />
                  {show("branch", branchEdited || name.length > 0)}
                </label>
                <label className="field">
                  <span>From</span>
                  <select value={base} onChange={(e) => setBase(e.target.value)} disabled={!repo} data-testid="wt-base">
                    {repo?.branches.map((b) => (
                      <option key={b} value={b}>
                        {b}
                        {b === repo.defaultBranch ? " (default)" : ""}
                      </option>
                    ))}
                    {repo && !repo.branches.includes(base) && base && <option value={base}>{base}</option>}
                  </select>
                </label>
              </>
            ) : (
              <label className="field span-2">
                <span>Branch to check out</span>
                <select
                  value={existing}
                  onChange={(e) => setExisting(e.target.value)}
                  disabled={!repo}
                  data-testid="wt-existing"
                >
                  <option value="">Pick a branch…</option>
                  {repo?.branches.map((b) => (
                    <option key={b} value={b} disabled={inUse.has(b)}>
                      {b}
                      {inUse.has(b) ? ` (in use by ${inUse.get(b)})` : ""}
                    </option>
                  ))}
                </select>
                {show("branch", false)}
              </label>
            )}
            <label className="field span-2">
              <span>
                Issue or PR <span className="muted">(optional)</span>
              </span>
              <input
                type="url"
                value={issueUrl}
                onChange={(e) => setIssueUrl(e.target.value)}
                placeholder="https://github.com/org/repo/issues/42"
                data-testid="wt-issue"
              />
              {show("issueUrl", issueUrl.length > 0)}
            </label>
            <label className="field span-2">
              <span>
                Notes <span className="muted">(optional)</span>
              </span>
              <textarea
                value={notes}
                onChange={(e) => setNotes(e.target.value)}
                rows={2}
                placeholder="What this worktree is for"
                data-testid="wt-notes"
              />
              {show("notes", true)}
            </label>
          </div>
        )}
        {error && (
          <div className="error" role="alert" data-testid="wt-error">
            {error}
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="btn btn-primary"
            disabled={busy || noRunner || !repo || (tried && invalid)}
            data-testid="wt-create"
          >
            {busy ? "Creating…" : "Create worktree"}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Where a card goes when made from the toolbar: centered on the view, beside any card already there. */
export const centeredCard = (center: { x: number; y: number }) => ({
  x: Math.round(center.x - CARD.width / 2),
  y: Math.round(center.y - CARD.height / 2),
});
