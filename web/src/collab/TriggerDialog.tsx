import { useEffect, useLayoutEffect, useRef, useState } from "react";
import {
  PERMISSION_MODE_LABELS,
  PERMISSION_MODES,
  type PermissionMode,
  PROVIDER_LABELS,
  type Provider,
  RUNTIME_LABELS,
  RUNTIME_PROVIDERS,
  RUNTIMES,
  type Runtime,
  renderTemplate,
  TEMPLATE_VARIABLES,
  templateProblem,
  type Zone,
  type ZoneTrigger,
} from "../../../protocol/index.ts";
import type { BoardActions } from "../board/actions.ts";
import { isCard } from "../board/cards.ts";
import type { BoardEntities } from "../board/entities.ts";
import { useStore } from "../lib/store.ts";
import { useSubmit } from "../lib/useSubmit.ts";
import { ModelInput } from "../sessions/ModelInput.tsx";
import { DEFAULT_MODEL, modelsOf, providerFor, runtimeNote } from "../sessions/readiness.ts";
import { BEHAVIOUR_LABEL, insertVariable, sampleValues } from "./triggerText.ts";

type Behaviour = ZoneTrigger["behaviour"] | "none";

const BEHAVIOUR_HELP: Record<Behaviour, string> = {
  none: "Dropping a card here only moves it.",
  new_session: "Each drop starts a new agent session on the card with this prompt.",
  latest_session: "Each drop sends this prompt to the card's most recent session (a new one if it has none).",
  ask: "Each drop shows the prompt to whoever dropped the card, to edit and send, or cancel.",
};

/**
 * A zone's trigger: what dropping a worktree into it does. The template is checked as it is typed,
 * in the edge's own words (templateProblem), and previewed for a card in the zone.
 */
export function TriggerDialog({
  zone,
  entities,
  actions,
  onClose,
}: {
  zone: Zone;
  entities: BoardEntities;
  actions: BoardActions;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const caretAfter = useRef<number | null>(null);
  const t = zone.trigger;
  const [behaviour, setBehaviour] = useState<Behaviour>(t?.behaviour ?? "none");
  const [template, setTemplate] = useState(zone.promptTemplate);
  const [runtime, setRuntime] = useState<Runtime>(t?.runtime ?? "builtin");
  const [provider, setProvider] = useState<Provider>(t?.provider ?? "anthropic");
  const [model, setModel] = useState(t?.model ?? DEFAULT_MODEL.anthropic);
  const [mode, setMode] = useState<PermissionMode>(t?.permissionMode ?? "ask");
  const [baseUrl, setBaseUrl] = useState(t?.baseUrl ?? "");
  const { busy, error, run } = useSubmit();
  const board = useStore(entities.board);
  const nodes = useStore(entities.nodes);
  useEffect(() => {
    ref.current?.showModal();
  }, []);

  const problem = templateProblem(template);
  const needsPrompt = behaviour !== "none" && template.trim() === "";
  const modelMissing = behaviour !== "none" && model.trim() === "";
  const example = nodes.find((n) => isCard(n) && n.data.wt.zoneId === zone.id);
  const wt = example && isCard(example) ? example.data.wt : null;
  const preview = problem
    ? null
    : renderTemplate(
        template,
        sampleValues({
          "zone.name": zone.name,
          ...(board ? { "board.name": board.name } : {}),
          ...(wt
            ? {
                "worktree.name": wt.name,
                "worktree.branch": wt.branch,
                "worktree.issueUrl": wt.issueUrl ?? "",
                "worktree.notes": wt.notes,
              }
            : {}),
        }),
      );

  const pickProvider = (p: Provider) => {
    setProvider(p);
    if (!modelsOf(p).some((m) => m.id === model)) setModel(DEFAULT_MODEL[p]);
  };
  // Claude Code talks only to Anthropic and Codex only to OpenAI: the provider follows the runtime.
  const pickRuntime = (rt: Runtime) => {
    setRuntime(rt);
    pickProvider(providerFor(rt, provider));
  };

  const addVariable = (v: string) => {
    const el = area.current;
    const next = insertVariable(
      template,
      el?.selectionStart ?? template.length,
      el?.selectionEnd ?? template.length,
      v,
    );
    caretAfter.current = next.caret;
    setTemplate(next.text);
  };
  // The caret goes after the inserted variable as the new text is committed, before any key typed
  // next can land (a frame later, a quick typist's keys went where the caret had been).
  useLayoutEffect(() => {
    const at = caretAfter.current;
    if (at === null) return;
    caretAfter.current = null;
    area.current?.focus();
    area.current?.setSelectionRange(at, at);
  });

  const save = () =>
    run(async () => {
      const trigger: ZoneTrigger | null =
        behaviour === "none"
          ? null
          : {
              behaviour,
              runtime,
              provider,
              model: model.trim(),
              permissionMode: mode,
              ...(provider === "openai" && baseUrl.trim() ? { baseUrl: baseUrl.trim() } : {}),
            };
      await actions.saveZoneTrigger(zone.id, { promptTemplate: template, trigger });
      onClose();
    });

  return (
    <dialog ref={ref} className="dialog dialog-wide" onClose={onClose} data-testid="trigger-dialog">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (!problem && !needsPrompt && !modelMissing) void save();
        }}
      >
        <h2>Trigger on “{zone.name}”</h2>
        <div className="small muted">When a worktree is dropped here</div>
        <div className="trigger-behaviours" data-testid="trigger-behaviours">
          {(["none", "new_session", "latest_session", "ask"] as const).map((b) => (
            <button
              key={b}
              type="button"
              className={`trigger-behaviour${behaviour === b ? " on" : ""}`}
              aria-pressed={behaviour === b}
              onClick={() => setBehaviour(b)}
              data-testid={`trigger-behaviour-${b}`}
            >
              {b === "none" ? "Nothing" : BEHAVIOUR_LABEL[b]}
            </button>
          ))}
        </div>
        <p className="small muted">{BEHAVIOUR_HELP[behaviour]}</p>
        <label className="field">
          <span>Prompt template</span>
          <textarea
            ref={area}
            rows={5}
            value={template}
            onChange={(e) => setTemplate(e.target.value)}
            placeholder="Review {{worktree.name}} on {{worktree.branch}} and list what is left to do."
            spellCheck={false}
            aria-invalid={!!problem}
            data-testid="trigger-template"
          />
        </label>
        <div className="trigger-vars" data-testid="trigger-variables">
          <span className="small muted">Insert:</span>
          {TEMPLATE_VARIABLES.map((v) => (
            <button
              key={v}
              type="button"
              className="trigger-var"
              onClick={() => addVariable(v)}
              data-testid="trigger-variable"
              data-variable={v}
            >
              {`{{${v}}}`}
            </button>
          ))}
        </div>
        {problem ? (
          <div className="error small" role="alert" data-testid="trigger-problem">
            {problem}
          </div>
        ) : needsPrompt ? (
          <div className="small muted" data-testid="trigger-problem">
            A trigger needs a prompt template to send.
          </div>
        ) : (
          template.trim() && (
            <div className="trigger-preview" data-testid="trigger-preview">
              <span className="small muted">{wt ? `For “${wt.name}”:` : "Preview:"}</span>
              <pre>{preview}</pre>
            </div>
          )
        )}
        {behaviour !== "none" && (
          <div className="form-grid">
            <label className="field span-2">
              <span>Runtime</span>
              <select
                value={runtime}
                onChange={(e) => pickRuntime(e.target.value as Runtime)}
                data-testid="trigger-runtime"
              >
                {RUNTIMES.map((rt) => (
                  <option key={rt} value={rt}>
                    {RUNTIME_LABELS[rt]}
                  </option>
                ))}
              </select>
              <span className="small muted" data-testid="trigger-runtime-note">
                {runtimeNote(runtime, mode).about}
                {runtime !== "builtin" &&
                  " A card whose runner lacks it is not started, and the person who dropped it is told why."}
              </span>
            </label>
            <label className="field">
              <span>Provider</span>
              <select
                value={provider}
                onChange={(e) => pickProvider(e.target.value as Provider)}
                data-testid="trigger-provider"
              >
                {RUNTIME_PROVIDERS[runtime].map((p) => (
                  <option key={p} value={p}>
                    {PROVIDER_LABELS[p]}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              <span>Model</span>
              <ModelInput provider={provider} value={model} onChange={setModel} testId="trigger-model" />
            </label>
            {provider === "openai" && (
              <label className="field span-2">
                <span>
                  Base URL <span className="muted">(optional)</span>
                </span>
                <input
                  type="url"
                  value={baseUrl}
                  onChange={(e) => setBaseUrl(e.target.value)}
                  placeholder="https://api.openai.com/v1"
                  spellCheck={false}
                  data-testid="trigger-base-url"
                />
              </label>
            )}
            <label className="field span-2">
              <span>Permissions</span>
              <select
                value={mode}
                onChange={(e) => setMode(e.target.value as PermissionMode)}
                data-testid="trigger-mode"
              >
                {PERMISSION_MODES.map((m) => (
                  <option key={m} value={m}>
                    {PERMISSION_MODE_LABELS[m]}
                  </option>
                ))}
              </select>
            </label>
          </div>
        )}
        {error && (
          <div className="error" role="alert" data-testid="trigger-error">
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
            disabled={busy || !!problem || needsPrompt || modelMissing}
            data-testid="trigger-save"
          >
            {busy ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
