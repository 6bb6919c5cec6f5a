import { describe, expect, it } from "vitest";
import { renderTemplate, type TemplateValues, templateProblem } from "./templates.ts";

const values: TemplateValues = {
  "worktree.name": "login-fix",
  "worktree.branch": "fix/login",
  "worktree.issueUrl": "https://example.com/issues/7",
  "worktree.notes": "the form loses the email",
  "board.name": "Web app",
  "zone.name": "Review",
  "user.name": "Zoë Ann",
};

describe("zone prompt templates", () => {
  it("accepts every documented variable, with or without spaces inside the braces", () => {
    expect(templateProblem("Fix {{worktree.name}} on {{ worktree.branch }} for {{user.name}}")).toBeNull();
    expect(templateProblem("")).toBeNull();
    expect(templateProblem("no placeholders at all")).toBeNull();
  });

  it("names an unknown variable and lists the ones there are", () => {
    const problem = templateProblem("Fix {{worktree.title}}");
    expect(problem).toContain("unknown variable {{worktree.title}}");
    expect(problem).toContain("{{worktree.branch}}");
    expect(templateProblem("{{}}")).toContain("unknown variable {{}}");
  });

  it("refuses a placeholder left open or closed alone", () => {
    expect(templateProblem("Fix {{worktree.name}")).toContain("not closed");
    expect(templateProblem("Fix worktree.name}}")).toContain("not closed");
  });

  it("fills every placeholder, keeping non-ASCII and repeated ones", () => {
    expect(
      renderTemplate(
        "{{user.name}} asks: review {{ worktree.name }} ({{worktree.branch}}) in {{zone.name}}; {{worktree.name}} again",
        values,
      ),
    ).toBe("Zoë Ann asks: review login-fix (fix/login) in Review; login-fix again");
    expect(renderTemplate("Issue: {{worktree.issueUrl}}\nNotes: {{worktree.notes}} on {{board.name}}", values)).toBe(
      "Issue: https://example.com/issues/7\nNotes: the form loses the email on Web app",
    );
  });

  it("does not treat a value's own braces as a placeholder", () => {
    expect(renderTemplate("{{worktree.notes}}", { ...values, "worktree.notes": "{{user.name}}" })).toBe(
      "{{user.name}}",
    );
  });
});
