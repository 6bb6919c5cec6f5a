import { useEffect, useState } from "react";
import {
  RUNTIME_LABELS,
  RUNTIME_PACKAGES,
  RUNTIMES,
  type Runner,
  type Runtime,
  runtimeInstallHint,
} from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import { ago, fullDate, useNow } from "../lib/format.ts";
import { BoardMcpStdioSetting } from "../mcp/BoardMcpStdioSetting.tsx";
import { TerminalAccessSetting } from "../terminals/TerminalAccess.tsx";
import { confirm } from "../ui/confirm.tsx";
import { notify } from "../ui/notices.tsx";
import { RepoList } from "./RepoList.tsx";
import { type RunnerStore, STATUS_LABEL } from "./store.ts";

/** `Linux 6.1.0 x64` → `Linux x64`: the kernel release is noise on a card. */
function shortOs(os: string | undefined): string | null {
  if (!os) return null;
  const parts = os.split(" ");
  return parts.length >= 3 ? `${parts[0]} ${parts.at(-1)}` : os;
}

const shortGit = (v: string | undefined) => (v ? `git ${v.replace(/^git( version)?\s*/, "")}` : null);

/**
 * One runner: a live status dot, what it reported about itself, what its owner may do with it, and
 * its repos. `boardId` is the board the list is shown on (sharing acts on it); `canUse` is whether
 * the person may add and fetch repos (its owner, or a member of a board it is shared with).
 */
export function RunnerItem({
  runner,
  store,
  meId,
  boardId,
  canUse,
  initiallyOpen = false,
}: {
  runner: Runner;
  store: RunnerStore;
  meId: string;
  boardId?: string;
  canUse: boolean;
  initiallyOpen?: boolean;
}) {
  const [open, setOpen] = useState(initiallyOpen);
  const [busy, setBusy] = useState(false);
  const now = useNow();
  const mine = runner.ownerId === meId;
  const sharedHere = boardId ? runner.boardIds.includes(boardId) : false;
  const { info } = runner;
  const facts = [
    info.version ? `v${info.version}` : null,
    shortOs(info.os),
    shortGit(info.gitVersion),
    info.providers?.length ? info.providers.join(", ") : null,
    sandboxFact(info.sandbox),
  ].filter(Boolean);

  const act = async (what: () => Promise<void>) => {
    setBusy(true);
    try {
      await what();
    } catch (err) {
      notify(messageOf(err), "error");
    } finally {
      setBusy(false);
    }
  };

  const revoke = async () => {
    const ok = await confirm({
      title: `Revoke “${runner.name}”?`,
      body: "It is disconnected at once and its credential stops working. Jobs waiting for it fail. Worktrees on that machine stay where they are.",
      confirmLabel: "Revoke runner",
    });
    if (ok) await act(() => store.revoke(runner.id));
  };

  const revoked = runner.status === "revoked";
  return (
    <li className={`runner${revoked ? " revoked" : ""}`} data-testid="runner" data-runner-id={runner.id}>
      <div className="runner-head">
        <span
          className={`dot dot-${runner.status}`}
          title={STATUS_LABEL[runner.status]}
          data-testid="runner-status"
          data-status={runner.status}
        />
        <div className="runner-who">
          <span className="strong ellipsis" data-testid="runner-title">
            {runner.name}
          </span>
          <span className="muted small">
            {STATUS_LABEL[runner.status]}
            {runner.status !== "online" && runner.lastSeenAt && (
              <span title={fullDate(runner.lastSeenAt)}> · last seen {ago(runner.lastSeenAt, now)}</span>
            )}
            {!mine && <span> · shared with you</span>}
          </span>
        </div>
        {!revoked && (
          <button
            type="button"
            className="btn btn-small btn-ghost"
            onClick={() => setOpen((o) => !o)}
            aria-expanded={open}
            data-testid="runner-repos-toggle"
          >
            Repos
          </button>
        )}
      </div>
      {facts.length > 0 && <div className="runner-facts small muted">{facts.join(" · ")}</div>}
      {info.version && !revoked && <RuntimesLine runtimes={info.runtimes ?? []} />}
      {mine && !revoked && (
        <div className="runner-actions">
          {boardId &&
            (sharedHere ? (
              <button
                type="button"
                className="btn btn-small"
                disabled={busy}
                onClick={() => void act(() => store.unshare(runner.id, boardId))}
                title="Members of this board can no longer use it"
                data-testid="runner-unshare"
              >
                Unshare from board
              </button>
            ) : (
              <button
                type="button"
                className="btn btn-small"
                disabled={busy}
                onClick={() => void act(() => store.share(runner.id, boardId))}
                title="Members of this board can then create worktrees on it"
                data-testid="runner-share"
              >
                Share with this board
              </button>
            ))}
          {!boardId && (
            <span className="muted small">
              {runner.boardIds.length
                ? `Shared with ${runner.boardIds.length} board${runner.boardIds.length > 1 ? "s" : ""}`
                : "Not shared with any board yet"}
            </span>
          )}
          <span className="spacer" />
          <button
            type="button"
            className="btn btn-small btn-ghost-danger"
            disabled={busy}
            onClick={() => void revoke()}
            data-testid="runner-revoke"
          >
            Revoke
          </button>
        </div>
      )}
      {mine && !revoked && <TerminalAccessSetting runner={runner} store={store} />}
      {mine && !revoked && <BoardMcpStdioSetting runner={runner} store={store} />}
      {open && !revoked && <RunnerRepos runner={runner} store={store} canUse={canUse} />}
    </li>
  );
}

function RunnerRepos({ runner, store, canUse }: { runner: Runner; store: RunnerStore; canUse: boolean }) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    store.loadRepos(runner.id).catch((err) => setError(messageOf(err)));
  }, [store, runner.id]);
  if (error) return <div className="error small">{error}</div>;
  return <RepoList runner={runner} store={store} canUse={canUse} />;
}

/** How the runner confines its agents' shell commands, in a word or two. */
function sandboxFact(s: Runner["info"]["sandbox"]): string | null {
  if (!s) return null;
  if (s.state === "on") return `sandboxed (${s.kind})`;
  return s.state === "off" ? "sandbox off" : "no sandbox";
}

type SdkRuntime = Exclude<Runtime, "builtin">;

/**
 * The agent runtimes the runner can run, with their SDKs' versions; a missing one as the command
 * that adds it (the whole sentence on hover), so its owner sees what to do without a second look.
 */
function RuntimesLine({ runtimes }: { runtimes: NonNullable<Runner["info"]["runtimes"]> }) {
  const sdk = RUNTIMES.filter((r): r is SdkRuntime => r !== "builtin");
  return (
    <div className="runner-facts small muted" data-testid="runner-runtimes">
      Runtimes: {RUNTIME_LABELS.builtin}
      {sdk.map((rt) => {
        const has = runtimes.find((r) => r.runtime === rt);
        return (
          <span key={rt} data-testid={`runner-runtime-${rt}`} data-has={has ? "true" : "false"}>
            {" · "}
            {has ? (
              `${RUNTIME_LABELS[rt]} ${has.version}${has.signedIn ? " (signed in to Claude)" : ""}`
            ) : (
              <span className="runner-runtime-missing" title={`${RUNTIME_LABELS[rt]}: ${runtimeInstallHint(rt)}`}>
                {RUNTIME_LABELS[rt]}: <code>npm i -g {RUNTIME_PACKAGES[rt]}</code>
              </span>
            )}
          </span>
        );
      })}
    </div>
  );
}
