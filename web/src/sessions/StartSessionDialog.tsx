import { type FormEvent, useEffect, useRef, useState, useSyncExternalStore } from "react";
import {
  CreateSessionBody,
  HttpUrl,
  PERMISSION_MODE_LABELS,
  PERMISSION_MODES,
  type PermissionMode,
  PROVIDER_LABELS,
  PROVIDERS,
  type Provider,
  RUNTIME_LABELS,
  RUNTIME_PROVIDERS,
  RUNTIMES,
  type Runtime,
  type Worktree,
} from "../../../protocol/index.ts";
import { problem } from "../lib/problems.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { McpPickField } from "../mcp/McpPicker.tsx";
import { useSessions } from "./context.ts";
import { ModelInput } from "./ModelInput.tsx";
import {
  DEFAULT_MODEL,
  hostsNote,
  modelsFor,
  modelsOf,
  parseHosts,
  providerChoice,
  providerFor,
  runtimeChoice,
  runtimeNote,
} from "./readiness.ts";

const LAST_KEY = "trellis:last-session";

interface Choice {
  runtime: Runtime;
  provider: Provider;
  model: string;
  baseUrl: string;
  mode: PermissionMode;
}

function lastChoice(): Partial<Choice> {
  try {
    return JSON.parse(localStorage.getItem(LAST_KEY) ?? "{}");
  } catch {
    return {};
  }
}

/**
 * Start an agent session on a worktree: runtime, provider, model (the known ones offered, any name
 * typed), permission mode, and an optional title and first prompt; in the advanced part, the hosts
 * its shell commands may reach. A runtime or provider the card's runner cannot serve is disabled
 * with what its owner should do; a runtime narrows the providers to those it talks to. The edge's
 * refusal, if any, is shown here in its words, and nothing typed is lost.
 */
export function StartSessionDialog({ wt, onClose }: { wt: Worktree; onClose: () => void }) {
  const { actions, runners, store } = useSessions();
  const ref = useRef<HTMLDialogElement>(null);
  const runner = useSyncExternalStore(runners.board.subscribe, () =>
    runners.board.get()?.find((r) => r.id === wt.runnerId),
  );
  const [last] = useState(lastChoice);
  const [runtime, setRuntime] = useState<Runtime>(() =>
    last.runtime && RUNTIMES.includes(last.runtime) && runtimeChoice(runner, last.runtime).ok
      ? last.runtime
      : "builtin",
  );
  const [provider, setProvider] = useState<Provider>(() => {
    const offered = RUNTIME_PROVIDERS[runtime];
    if (
      last.provider &&
      offered.includes(last.provider) &&
      providerChoice(runner, last.provider, last.baseUrl, runtime).ok
    ) {
      return last.provider;
    }
    return offered.find((p) => providerChoice(runner, p, "", runtime).ok) ?? offered[0]!;
  });
  const [model, setModel] = useState(() =>
    last.provider === provider && last.model ? last.model : DEFAULT_MODEL[provider],
  );
  const [baseUrl, setBaseUrl] = useState(() => (last.provider === "openai" ? (last.baseUrl ?? "") : ""));
  const [mode, setMode] = useState<PermissionMode>(last.mode ?? "ask");
  const [title, setTitle] = useState("");
  const [prompt, setPrompt] = useState("");
  const [mcpServerIds, setMcpServerIds] = useState<string[]>([]);
  const [hostsText, setHostsText] = useState("");
  const [tried, setTried] = useState(false);
  const { busy, error, run } = useSubmit();

  useEffect(() => {
    ref.current?.showModal();
    // showModal focuses the dialog's first control (a runtime radio), whatever autoFocus says.
    ref.current?.querySelector<HTMLTextAreaElement>('[data-testid="session-prompt"]')?.focus();
    runners.loadBoard().catch(() => {});
  }, [runners]);

  const pick = (p: Provider, rt = runtime) => {
    setProvider(p);
    // A name typed by hand stays while the provider does; a known one the runtime does not offer is replaced.
    const offered = modelsFor(rt, p).some((m) => m.id === model);
    const typed = !modelsOf(p).some((m) => m.id === model);
    if (p !== provider || !(offered || typed)) setModel(DEFAULT_MODEL[p]);
  };
  const pickRuntime = (rt: Runtime) => {
    setRuntime(rt);
    pick(providerFor(rt, provider), rt);
  };

  const choice = providerChoice(runner, provider, baseUrl, runtime);
  const rtChoice = runtimeChoice(runner, runtime);
  const note = runtimeNote(runtime, mode, runner);
  const hosts = parseHosts(hostsText);
  const problems = {
    model: problem(CreateSessionBody.shape.model, model, "The model"),
    baseUrl: provider === "openai" && baseUrl.trim() ? problem(HttpUrl, baseUrl, "The base URL") : null,
    title: problem(CreateSessionBody.shape.title, title, "The title"),
    prompt: prompt.trim() ? problem(CreateSessionBody.shape.prompt, prompt, "The prompt") : null,
    hosts: hosts.problem,
  };
  const invalid = Object.values(problems).some(Boolean) || !choice.ok || !rtChoice.ok;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (invalid) return;
    void run(async () => {
      const s = await actions.create({
        worktreeId: wt.id,
        runtime,
        provider,
        model: model.trim(),
        permissionMode: mode,
        ...(provider === "openai" && baseUrl.trim() ? { baseUrl: baseUrl.trim() } : {}),
        ...(title.trim() ? { title: title.trim() } : {}),
        ...(prompt.trim() ? { prompt } : {}),
        ...(mcpServerIds.length ? { mcpServerIds } : {}),
        ...(hosts.hosts.length ? { allowedHosts: hosts.hosts } : {}),
      });
      try {
        localStorage.setItem(LAST_KEY, JSON.stringify({ runtime, provider, model: model.trim(), baseUrl, mode }));
      } catch {}
      store.openPanel(s.id);
      onClose();
    });
  };

  const show = (field: keyof typeof problems) =>
    tried && problems[field] ? (
      <small className="field-error" data-testid={`problem-${field}`}>
        {problems[field]}
      </small>
    ) : null;

  return (
    <dialog ref={ref} className="dialog dialog-wide" onClose={onClose} data-testid="start-session">
      <form onSubmit={submit} noValidate>
        <h2>New session on “{wt.name}”</h2>
        <p className="muted small">
          An agent works in this worktree on {runner ? `runner '${runner.name}'` : "its runner"}; everyone on the board
          sees it live.
        </p>
        <div className="form-grid">
          <fieldset className="field span-2 provider-pick runtime-pick">
            <legend>Runtime</legend>
            <div className="runtime-options">
              {RUNTIMES.map((rt) => {
                const c = runtimeChoice(runner, rt);
                return (
                  <label key={rt} className={`radio${c.ok ? "" : " disabled"}`} title={c.ok ? undefined : c.reason}>
                    <input
                      type="radio"
                      name="runtime"
                      value={rt}
                      checked={runtime === rt}
                      disabled={!c.ok}
                      onChange={() => pickRuntime(rt)}
                      data-testid={`session-runtime-${rt}`}
                    />
                    <span>{RUNTIME_LABELS[rt]}</span>
                    {c.ok && c.version && (
                      <small className="muted" data-testid={`session-runtime-version-${rt}`}>
                        {c.version}
                      </small>
                    )}
                  </label>
                );
              })}
            </div>
            {RUNTIMES.map((rt) => {
              const c = runtimeChoice(runner, rt);
              return c.ok ? null : (
                <small key={rt} className="muted" data-testid={`session-runtime-why-${rt}`}>
                  {RUNTIME_LABELS[rt]}: {c.reason}
                </small>
              );
            })}
            <small className="muted runtime-about" data-testid="session-runtime-about">
              {note.about}
            </small>
          </fieldset>
          <fieldset className="field span-2 provider-pick">
            <legend>Provider</legend>
            {PROVIDERS.map((p) => {
              const offered = RUNTIME_PROVIDERS[runtime].includes(p);
              const c = providerChoice(runner, p, p === "openai" ? baseUrl : "", runtime);
              // An OpenAI-compatible server can still be named below, so that choice stays open.
              const usable = offered && (c.ok || p === "openai");
              const why = offered ? (c.ok ? null : c.reason) : `${RUNTIME_LABELS[runtime]} does not talk to it`;
              return (
                <label key={p} className={`radio${usable ? "" : " disabled"}`} title={why ?? undefined}>
                  <input
                    type="radio"
                    name="provider"
                    value={p}
                    checked={provider === p}
                    disabled={!usable}
                    onChange={() => pick(p)}
                    data-testid={`session-provider-${p}`}
                  />
                  <span>{PROVIDER_LABELS[p]}</span>
                  {why && (
                    <small className="muted provider-why" data-testid={`session-provider-why-${p}`}>
                      {why}
                      {offered && p === "openai" && ", or give a base URL below"}
                    </small>
                  )}
                </label>
              );
            })}
          </fieldset>
          <label className={`field${provider === "openai" ? "" : " span-2"}`}>
            <span>Model</span>
            <ModelInput
              provider={provider}
              runtime={runtime}
              value={model}
              onChange={setModel}
              testId="session-model"
            />
            {show("model") ?? (
              <small className="muted">
                {modelsOf(provider).some((m) => m.id === model.trim())
                  ? "Priced: tokens and cost are shown."
                  : "Not in Trellis's price table: tokens are shown, cost is not."}
              </small>
            )}
          </label>
          {provider === "openai" && (
            <label className="field">
              <span>
                Base URL <span className="muted">(optional)</span>
              </span>
              <input
                type="url"
                value={baseUrl}
                onChange={(e) => setBaseUrl(e.target.value)}
                placeholder={choice.ok && choice.baseUrl ? choice.baseUrl : "https://api.openai.com/v1"}
                spellCheck={false}
                data-testid="session-base-url"
              />
              {show("baseUrl") ?? (
                <small className="muted">
                  {runtime === "codex"
                    ? "A server that speaks the Responses API: its /v1 address, as the runner reaches it."
                    : "Ollama, vLLM, LM Studio…: the server's /v1 address, as the runner reaches it."}
                </small>
              )}
            </label>
          )}
          <label className="field span-2">
            <span>Permissions</span>
            <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode)} data-testid="session-mode">
              {PERMISSION_MODES.map((m) => (
                <option key={m} value={m}>
                  {PERMISSION_MODE_LABELS[m]}
                </option>
              ))}
            </select>
            {note.caution && (
              <small className="field-warning" data-testid="session-runtime-caution">
                {note.caution}
              </small>
            )}
          </label>
          <McpPickField value={mcpServerIds} onChange={setMcpServerIds} />
          <label className="field span-2">
            <span>
              Title <span className="muted">(optional)</span>
            </span>
            <input
              value={title}
              onChange={(e) => setTitle(e.target.value)}
              placeholder="What this session is for"
              data-testid="session-title"
            />
            {show("title")}
          </label>
          <label className="field span-2">
            <span>
              First prompt <span className="muted">(optional)</span>
            </span>
            <textarea
              value={prompt}
              onChange={(e) => setPrompt(e.target.value)}
              rows={4}
              placeholder="Fix the failing login test and explain the cause."
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) submit(e);
              }}
              data-testid="session-prompt"
            />
            {show("prompt")}
          </label>
          <details className="field span-2 session-advanced" data-testid="session-advanced">
            <summary>Advanced</summary>
            <label className="field">
              <span>
                Allowed hosts <span className="muted">(optional)</span>
              </span>
              <input
                value={hostsText}
                onChange={(e) => setHostsText(e.target.value)}
                placeholder="registry.npmjs.org, *.github.com"
                spellCheck={false}
                autoComplete="off"
                data-testid="session-hosts"
              />
              {problems.hosts ? (
                <small className="field-error" data-testid="problem-hosts">
                  {problems.hosts}
                </small>
              ) : (
                <small className="muted" data-testid="session-hosts-note">
                  {hostsNote(runner, runtime)}
                </small>
              )}
            </label>
          </details>
        </div>
        {runner && runner.status !== "online" && (
          <div className="callout" data-testid="session-runner-offline">
            Runner '{runner.name}' is {runner.status}: the session is made now and its first prompt runs when the runner
            connects.
          </div>
        )}
        {!rtChoice.ok && (
          <div className="callout" data-testid="session-runtime-unavailable">
            {RUNTIME_LABELS[runtime]}: {rtChoice.reason}.
          </div>
        )}
        {!choice.ok && (
          <div className="callout" data-testid="session-provider-unavailable">
            {PROVIDER_LABELS[provider]}: {choice.reason}.
          </div>
        )}
        {error && (
          <div className="error" role="alert" data-testid="session-error">
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
            disabled={busy || !choice.ok || !rtChoice.ok || (tried && invalid)}
            data-testid="session-start"
          >
            {busy ? "Starting…" : "Start session"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
