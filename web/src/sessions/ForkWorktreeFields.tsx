import { useEffect, useMemo, useState } from "react";
import { BranchName, type ForkWorktree, type Worktree, WorktreeName } from "../../../protocol/index.ts";
import { BranchModeField } from "../board/BranchModeField.tsx";
import { CARD, isCard, placeCard } from "../board/cards.ts";
import { problem } from "../lib/problems.ts";
import { useStore } from "../lib/store.ts";
import { useSessions } from "./context.ts";

const GAP = 32;

/**
 * The fork's own new worktree: on the source card's runner and repo, named like a card, a new
 * branch from the source's branch (its last commit) or an existing branch. Checked as the create
 * dialog checks (the same protocol/ schemas, the repo's branches, the board's cards); `onChange`
 * gets the body's `newWorktree`, or a problem in words while there is one.
 */
export function ForkWorktreeFields({
  source,
  onChange,
  showProblems,
}: {
  source: Worktree;
  onChange: (v: { body: ForkWorktree } | { problem: string }) => void;
  showProblems: boolean;
}) {
  const { entities, runners } = useSessions();
  const nodes = useStore(entities.nodes);
  const reposByRunner = useStore(runners.repos);
  const repo = reposByRunner.get(source.runnerId)?.find((r) => r.id === source.repoId);
  const [name, setName] = useState(`${source.name}-fork`.slice(0, 100));
  const [mode, setMode] = useState<"new" | "existing">("new");
  const [branch, setBranch] = useState("");
  const [branchEdited, setBranchEdited] = useState(false);
  const [base, setBase] = useState(source.branch);
  const [existing, setExisting] = useState("");

  useEffect(() => {
    runners.loadRepos(source.runnerId).catch(() => {});
  }, [runners, source.runnerId]);

  const { inUse, names } = useMemo(() => {
    const inUse = new Map<string, string>();
    const names = new Set<string>();
    for (const n of nodes) {
      if (!isCard(n) || n.data.wt.repoId !== source.repoId) continue;
      inUse.set(n.data.wt.branch, n.data.wt.name);
      names.add(n.data.wt.name);
    }
    return { inUse, names };
  }, [nodes, source.repoId]);

  const branchValue = (mode === "new" ? (branchEdited ? branch : name) : existing).trim();
  const problems = [
    problem(WorktreeName, name, "The name") ??
      (names.has(name.trim()) ? `A worktree named “${name.trim()}” already exists in this repo.` : null),
    mode === "new"
      ? (problem(BranchName, branchValue, "The branch name") ??
        (inUse.has(branchValue)
          ? `Branch “${branchValue}” is already checked out in worktree “${inUse.get(branchValue)}”.`
          : repo?.branches.includes(branchValue)
            ? `Branch “${branchValue}” already exists: choose “Existing branch”, or give the new one another name.`
            : null))
      : existing
        ? null
        : "Pick a branch.",
  ].filter((p): p is string => !!p);
  const spot = useMemo(
    () => placeCard(nodes, { x: source.x + CARD.width + GAP, y: source.y }),
    [nodes, source.x, source.y],
  );

  const first = problems[0];
  useEffect(() => {
    if (first) onChange({ problem: first });
    else
      onChange({
        body: {
          name: name.trim(),
          mode,
          branch: branchValue,
          ...(mode === "new" ? { baseBranch: base } : {}),
          x: Math.round(spot.x),
          y: Math.round(spot.y),
          zoneId: spot.zoneId,
        },
      });
  }, [first, name, mode, branchValue, base, spot, onChange]);

  const branches = repo?.branches ?? [source.branch];
  return (
    <div className="stack fork-worktree" data-testid="fork-new-fields">
      <label className="field">
        <span>Worktree name</span>
        <input value={name} onChange={(e) => setName(e.target.value)} spellCheck={false} data-testid="fork-wt-name" />
      </label>
      <BranchModeField mode={mode} onChange={setMode} testIdPrefix="fork-wt" />
      {mode === "new" ? (
        <div className="form-grid">
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
              data-testid="fork-wt-branch"
            />
          </label>
          <label className="field">
            <span>From</span>
            <select value={base} onChange={(e) => setBase(e.target.value)} data-testid="fork-wt-base">
              {(branches.includes(source.branch) ? branches : [source.branch, ...branches]).map((b) => (
                <option key={b} value={b}>
                  {b}
                  {b === source.branch ? " (this worktree's branch)" : ""}
                </option>
              ))}
            </select>
          </label>
        </div>
      ) : (
        <label className="field">
          <span>Branch to check out</span>
          <select value={existing} onChange={(e) => setExisting(e.target.value)} data-testid="fork-wt-existing">
            <option value="">Pick a branch…</option>
            {branches.map((b) => (
              <option key={b} value={b} disabled={inUse.has(b)}>
                {b}
                {inUse.has(b) ? ` (in use by ${inUse.get(b)})` : ""}
              </option>
            ))}
          </select>
        </label>
      )}
      <small className="muted">
        On the same runner and repo. It starts from the branch's last commit: changes not committed here stay here. A
        prompt sent before it is ready waits for it.
      </small>
      {showProblems && first && (
        <small className="field-error" data-testid="fork-wt-problem">
          {first}
        </small>
      )}
    </div>
  );
}
