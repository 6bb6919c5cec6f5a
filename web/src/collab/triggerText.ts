import {
  PERMISSION_MODE_LABELS,
  PROVIDER_LABELS,
  RUNTIME_LABELS,
  TEMPLATE_VARIABLES,
  type TemplateValues,
  type Zone,
  type ZoneTrigger,
} from "../../../protocol/index.ts";

export const BEHAVIOUR_LABEL: Record<ZoneTrigger["behaviour"], string> = {
  new_session: "New session",
  latest_session: "Latest session",
  ask: "Ask me",
};

/** What a zone's trigger does, in one sentence: its badge's hover. */
export function triggerSummary(zone: Pick<Zone, "name" | "trigger" | "promptTemplate">): string | null {
  const t = zone.trigger;
  if (!t) return null;
  const on = t.runtime && t.runtime !== "builtin" ? `${RUNTIME_LABELS[t.runtime]} on ` : "";
  const how = `${on}${PROVIDER_LABELS[t.provider]} ${t.model}, ${PERMISSION_MODE_LABELS[t.permissionMode].split(":")[0]!.toLowerCase()} mode`;
  const prompt = zone.promptTemplate.length > 160 ? `${zone.promptTemplate.slice(0, 160)}…` : zone.promptTemplate;
  const what =
    t.behaviour === "new_session"
      ? `starts a new session (${how})`
      : t.behaviour === "latest_session"
        ? `sends the prompt to the card's latest session (or starts one: ${how})`
        : `shows the prompt to whoever dropped it, to edit and send (${how})`;
  return `Dropping a worktree here ${what}:\n${prompt}`;
}

/** Example values for the editor's preview when the zone holds no card to take them from. */
export function sampleValues(over: Partial<TemplateValues> = {}): TemplateValues {
  const base = Object.fromEntries(TEMPLATE_VARIABLES.map((v) => [v, `‹${v}›`])) as TemplateValues;
  return { ...base, ...over };
}

/** Put `{{variable}}` at the caret (replacing a selection); the caret goes after it. */
export function insertVariable(text: string, start: number, end: number, variable: string) {
  const inserted = `{{${variable}}}`;
  return { text: text.slice(0, start) + inserted + text.slice(end), caret: start + inserted.length };
}
