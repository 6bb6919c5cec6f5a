/**
 * Zone prompt templates: `{{worktree.name}}`-style placeholders filled in when a worktree is
 * dropped into the zone. Shared by the edge (which validates on save and renders on drop) and the
 * board (which checks as you type and previews), so both say the same thing about a template.
 */

export const TEMPLATE_VARIABLES = [
  "worktree.name",
  "worktree.branch",
  "worktree.issueUrl",
  "worktree.notes",
  "board.name",
  "zone.name",
  "user.name",
] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];
export type TemplateValues = Record<TemplateVariable, string>;

const KNOWN = new Set<string>(TEMPLATE_VARIABLES);
/** `{{ name }}`, spaces allowed inside the braces. */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The first thing wrong with a template, in words a person can act on; null when it is fine. */
export function templateProblem(template: string): string | null {
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1]!;
    if (!KNOWN.has(name)) {
      const shown = name === "" ? "{{}}" : `{{${name}}}`;
      return `unknown variable ${shown}: use one of ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(", ")}`;
    }
  }
  // What is left once every placeholder is gone must hold no half-open ones: `{{worktree.name}`
  // would otherwise reach the agent verbatim, and nobody meant that.
  const rest = template.replace(PLACEHOLDER, "");
  if (rest.includes("{{") || rest.includes("}}")) return "a placeholder is not closed: write {{variable}}";
  return null;
}

/** Fill every placeholder; the template is assumed valid (saved templates are). */
export function renderTemplate(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (whole, name: string) =>
    KNOWN.has(name) ? values[name as TemplateVariable] : whole,
  );
}
