import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AgentFixture, agentFixture, SECRET_ENV, TestSink } from "../../test/agent-kit.ts";
import { writeFiles } from "../../test/git-fixtures.ts";
import { runTask } from "./index.ts";
import { ShellSandbox } from "./sandbox.ts";
import { withJs } from "./tools/grep.ts";
import { type ToolContext, type ToolOutcome, toolNamed } from "./tools/index.ts";

let fx: AgentFixture;
let ctx: ToolContext;
let controller: AbortController;

beforeEach(async () => {
  fx = await agentFixture("anthropic", { "README.md": "hello\n", "src/app.ts": "const a = 1;\nconst b = 2;\n" });
  controller = new AbortController();
  const root = realpathSync(fx.repo);
  const sandbox = await ShellSandbox.off().forTask(root, []);
  ctx = { root, env: fx.input().env, signal: controller.signal, sink: new TestSink(), sandbox };
  mkdirSync(fx.outside, { recursive: true });
  writeFileSync(join(fx.outside, "secret.txt"), "outside secret\n");
});
afterEach(() => fx.cleanup());

/** Call a tool as the loop does; a thrown ToolFailure becomes the error result the model reads. */
async function call(name: string, input: Record<string, unknown>): Promise<ToolOutcome> {
  const tool = toolNamed(name)!;
  try {
    if (tool.preview) await tool.preview(input, ctx);
    return await tool.run(input, ctx);
  } catch (err) {
    return { output: (err as Error).message, isError: true };
  }
}

describe("confinement to the worktree", () => {
  beforeEach(() => {
    symlinkSync(fx.outside, join(fx.repo, "out-dir"));
    symlinkSync(join(fx.outside, "secret.txt"), join(fx.repo, "out-file"));
    symlinkSync(join(fx.outside, "missing.txt"), join(fx.repo, "dangling"));
    symlinkSync("src", join(fx.repo, "src-link"));
  });

  it.each([
    ["read_file", { path: "../outside/secret.txt" }],
    ["read_file", { path: "/etc/passwd" }],
    ["read_file", { path: "out-file" }],
    ["read_file", { path: "out-dir/secret.txt" }],
    ["read_file", { path: "src/../../outside/secret.txt" }],
    ["list_files", { path: "out-dir" }],
    ["list_files", { path: ".." }],
    ["grep", { pattern: "secret", path: "out-dir" }],
    ["grep", { pattern: "root", path: "/etc" }],
  ])("%s %j is refused", async (name, input) => {
    const r = await call(name, input);
    expect(r.isError).toBe(true);
    expect(r.output).toMatch(/outside the worktree/);
    expect(r.output).not.toContain("outside secret");
  });

  it.each([
    ["write_file", { path: "../outside/new.txt", content: "x" }],
    ["write_file", { path: "/tmp/trellis-escape.txt", content: "x" }],
    ["write_file", { path: "out-dir/new.txt", content: "x" }],
    ["write_file", { path: "out-file", content: "x" }],
    ["write_file", { path: "dangling", content: "x" }],
    ["write_file", { path: "dangling/deeper/x.txt", content: "x" }],
    ["edit_file", { path: "out-file", old_string: "outside", new_string: "inside" }],
  ])("%s %j is refused and nothing outside changes", async (name, input) => {
    const r = await call(name, input);
    expect(r.isError).toBe(true);
    expect(r.output).toMatch(/outside the worktree|symlink to something that does not exist/);
    expect(readFileSync(join(fx.outside, "secret.txt"), "utf8")).toBe("outside secret\n");
    expect(existsSync(join(fx.outside, "new.txt"))).toBe(false);
    expect(existsSync(join(fx.outside, "missing.txt"))).toBe(false);
    expect(existsSync("/tmp/trellis-escape.txt")).toBe(false);
  });

  it("symlinks and absolute paths that stay inside are fine", async () => {
    expect((await call("read_file", { path: "src-link/app.ts" })).output).toContain("const a = 1;");
    expect((await call("read_file", { path: join(fx.repo, "README.md") })).output).toBe("     1\thello");
  });

  it("git's own files are not written", async () => {
    const r = await call("write_file", { path: ".git/hooks/pre-commit", content: "#!/bin/sh\n" });
    expect(r).toMatchObject({ isError: true, output: expect.stringMatching(/inside \.git/) });
  });

  it("through the loop an escape is an error result the model reads, never an exception", async () => {
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "read_file", input: { path: "../outside/secret.txt" } }] },
      (body) => {
        expect(JSON.stringify(body.messages)).toMatch(/outside the worktree/);
        return { text: "I may not read that." };
      },
    ]);
    expect((await runTask(fx.input())).finalText).toBe("I may not read that.");
    expect(fx.sink.toolResults[0]).toMatchObject({ isError: true });
  });
});

describe("read_file", () => {
  it("numbers lines, reads ranges, and says where a long file was cut", async () => {
    writeFiles(fx.repo, { "long.txt": Array.from({ length: 3000 }, (_, i) => `line ${i + 1}`).join("\n") });
    const all = await call("read_file", { path: "long.txt" });
    expect(all.output.split("\n")[0]).toBe("     1\tline 1");
    expect(all.output).toContain("  2000\tline 2000");
    expect(all.output).not.toContain("line 2001");
    expect(all.output).toMatch(/\[showing lines 1-2000 of 3000; read on with offset=2001\]$/);
    expect(all.meta?.truncated).toBe(true);
    const part = await call("read_file", { path: "long.txt", offset: 2999, limit: 5 });
    expect(part.output).toBe("  2999\tline 2999\n  3000\tline 3000");
    expect((await call("read_file", { path: "long.txt", offset: 5000 })).output).toMatch(/past the end/);
  });

  it("refuses folders, binaries and missing files in words", async () => {
    writeFileSync(join(fx.repo, "bin.dat"), Buffer.from([1, 2, 0, 3]));
    expect((await call("read_file", { path: "src" })).output).toMatch(/is a folder/);
    expect((await call("read_file", { path: "bin.dat" })).output).toMatch(/binary file/);
    expect((await call("read_file", { path: "nope.ts" })).output).toMatch(/does not exist/);
    expect((await call("read_file", {})).output).toMatch(/`path` is required/);
  });
});

describe("edit_file and write_file", () => {
  it("an edit replaces the one exact match and reports the unified diff", async () => {
    const r = await call("edit_file", { path: "src/app.ts", old_string: "const b = 2;", new_string: "const b = 3;" });
    expect(r.isError).toBeFalsy();
    expect(readFileSync(join(fx.repo, "src/app.ts"), "utf8")).toBe("const a = 1;\nconst b = 3;\n");
    expect(r.meta?.diff).toBe(
      "--- a/src/app.ts\n+++ b/src/app.ts\n@@ -1,2 +1,2 @@\n const a = 1;\n-const b = 2;\n+const b = 3;\n",
    );
  });

  it("an edit is refused when the match is not unique, or absent, and the file is untouched", async () => {
    const twice = await call("edit_file", { path: "src/app.ts", old_string: "const", new_string: "let" });
    expect(twice).toMatchObject({ isError: true });
    expect(twice.output).toMatch(/appears 2 times in src\/app\.ts: include more of the surrounding lines/);
    const absent = await call("edit_file", { path: "src/app.ts", old_string: "const c", new_string: "x" });
    expect(absent.output).toMatch(/old_string was not found in src\/app\.ts/);
    expect(readFileSync(join(fx.repo, "src/app.ts"), "utf8")).toBe("const a = 1;\nconst b = 2;\n");
    expect((await call("edit_file", { path: "nope.ts", old_string: "a", new_string: "b" })).output).toMatch(
      /use write_file/,
    );
  });

  it("a replacement with $ patterns is taken literally", async () => {
    await call("edit_file", { path: "src/app.ts", old_string: "const a = 1;", new_string: "const a = '$&$1';" });
    expect(readFileSync(join(fx.repo, "src/app.ts"), "utf8")).toContain("const a = '$&$1';");
  });

  it("write_file creates folders and files, and diffs an overwrite against the old content", async () => {
    const created = await call("write_file", { path: "deep/er/new.md", content: "one\ntwo\n" });
    expect(created.output).toBe("Created deep/er/new.md (2 lines, 8 bytes).");
    expect(created.meta?.diff).toContain("--- /dev/null\n+++ b/deep/er/new.md");
    const over = await call("write_file", { path: "README.md", content: "bye\n" });
    expect(over.meta?.diff).toContain("-hello\n+bye");
    expect(readFileSync(join(fx.repo, "README.md"), "utf8")).toBe("bye\n");
  });
});

describe("list_files and grep", () => {
  beforeEach(() => {
    writeFiles(fx.repo, {
      "node_modules/dep/index.js": "secret in deps\n",
      "src/util/strings.ts": "export function shout(s: string) {\n  return s.toUpperCase();\n}\n",
      "docs/notes.md": "Shout it out\n",
    });
  });

  it("lists files relative to the root, by glob, without .git and node_modules", async () => {
    const all = (await call("list_files", {})).output.split("\n");
    expect(all).toEqual(["README.md", "docs/notes.md", "src/app.ts", "src/util/strings.ts"]);
    expect((await call("list_files", { pattern: "**/*.ts" })).output).toBe("src/app.ts\nsrc/util/strings.ts");
    expect((await call("list_files", { pattern: "*.ts", path: "src" })).output).toBe("src/app.ts");
    expect((await call("list_files", { pattern: "*.py" })).output).toMatch(/No files match/);
  });

  it("caps a long listing and says how many more there were", async () => {
    writeFiles(fx.repo, Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`many/f${i}.txt`, ""])));
    const r = await call("list_files", { path: "many" });
    expect(r.output.split("\n").filter((l) => l.startsWith("many/"))).toHaveLength(1000);
    expect(r.output).toMatch(/\[200 more not shown: narrow the pattern or the path\]$/);
  });

  it("greps with path:line:text, by glob and path, case-insensitively on request", async () => {
    expect((await call("grep", { pattern: "shout" })).output).toBe(
      "src/util/strings.ts:1:export function shout(s: string) {",
    );
    expect((await call("grep", { pattern: "shout", ignore_case: true })).output.split("\n").sort()).toEqual([
      "docs/notes.md:1:Shout it out",
      "src/util/strings.ts:1:export function shout(s: string) {",
    ]);
    expect((await call("grep", { pattern: "Shout|const", glob: "*.md" })).output).toBe("docs/notes.md:1:Shout it out");
    expect((await call("grep", { pattern: "const b", path: "src/app.ts" })).output).toBe("src/app.ts:2:const b = 2;");
    expect((await call("grep", { pattern: "secret in deps" })).output).toBe("No matches.");
    expect((await call("grep", { pattern: "(" })).output).toMatch(/not a valid regular expression/);
  });
});

/** ripgrep's folder when this machine has it (the grep tool then uses it rather than the fallback). */
const rgDir = (process.env.PATH ?? "").split(delimiter).find((d) => d && existsSync(join(d, "rg")));

describe.skipIf(!rgDir)("grep with ripgrep", () => {
  it("answers as the JavaScript fallback does", async () => {
    writeFiles(fx.repo, {
      "node_modules/dep/index.js": "shout in deps\n",
      "src/util/strings.ts": "export function shout(s: string) {\n  return s.toUpperCase();\n}\n",
      "docs/notes.md": "Shout it out\n",
    });
    const queries = [
      { pattern: "shout" },
      { pattern: "shout", ignore_case: true },
      { pattern: "Shout|const", glob: "*.md" },
      { pattern: "const b", path: "src/app.ts" },
      { pattern: "const", path: "src" },
      { pattern: "nothing here" },
    ];
    for (const q of queries) {
      const rg = await call("grep", q);
      const js = await withJs(
        {
          pattern: q.pattern,
          rel: q.path ?? ".",
          abs: join(ctx.root, q.path ?? "."),
          isFile: q.path === "src/app.ts",
          glob: q.glob,
          ignoreCase: q.ignore_case === true,
        },
        ctx,
      );
      // ripgrep searches in parallel: the same lines, not always in the same order.
      expect(rg.output.split("\n").sort(), JSON.stringify(q)).toEqual(js.output.split("\n").sort());
    }
    const bad = await call("grep", { pattern: "(" });
    expect(bad).toMatchObject({
      isError: true,
      output: expect.stringMatching(/^pattern is not a valid regular expression: /),
    });
  });
});

describe("shell", () => {
  it("runs in the worktree and reports the exit code", async () => {
    const ok = await call("shell", { command: "pwd; ls" });
    expect(ok.output).toContain(realpathSync(fx.repo));
    expect(ok.output).toMatch(/README\.md[\s\S]*\[exit code 0\]$/);
    expect(ok).toMatchObject({ isError: false, meta: { exitCode: 0, truncated: false } });
    const bad = await call("shell", { command: "echo oops >&2; exit 3" });
    expect(bad).toMatchObject({ isError: true, output: "oops\n[exit code 3]", meta: { exitCode: 3 } });
  });

  it("caps output keeping its head and tail, and says how much was cut", async () => {
    const r = await call("shell", { command: "seq 1 100000" });
    expect(r.meta?.truncated).toBe(true);
    expect(r.output.length).toBeLessThan(30_500);
    expect(r.output.startsWith("1\n2\n3\n")).toBe(true);
    expect(r.output).toMatch(/99999\n100000\n\[exit code 0\]$/);
    const total = Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join("").length;
    expect(r.output).toMatch(
      new RegExp(
        `\\[output cut: [\\d,]+ of ${total.toLocaleString("en-US")} characters in the middle were left out\\]`,
      ),
    );
  });

  it("a cut through an emoji still gives text the edge accepts", async () => {
    // The head keeps 15,000 characters: the 15,000th is the first half of the first emoji.
    fx.server.script("anthropic", [
      {
        toolCalls: [
          {
            name: "shell",
            input: { command: "printf 'a%.0s' $(seq 14999); for i in $(seq 10000); do printf '😀'; done" },
          },
        ],
      },
      { text: "ok" },
    ]);
    await runTask(fx.input());
    const [r] = fx.sink.toolResults;
    expect(r!.meta?.truncated).toBe(true);
    expect(r!.output).toContain("a\uFFFD\n\n[output cut:");
  });

  it("a command too long for a person to review is refused", async () => {
    const r = await call("shell", { command: `echo ${"x".repeat(20_001)}` });
    expect(r).toMatchObject({ isError: true, output: expect.stringMatching(/longer than 20,000 characters/) });
  });

  it("hands the command no credentials", async () => {
    const r = await call("shell", { command: "env" });
    for (const [name, value] of Object.entries(SECRET_ENV)) {
      expect(r.output).not.toContain(`${name}=`);
      expect(r.output).not.toContain(value);
    }
    expect(r.output).not.toMatch(/^(ANTHROPIC|OPENAI|TRELLIS)_/m);
    expect(r.output).toMatch(/^PATH=/m);
    expect(r.output).toMatch(/^GIT_TERMINAL_PROMPT=0$/m);
  });

  it("kills a command at its timeout", async () => {
    const started = performance.now();
    const r = await call("shell", { command: "echo started; sleep 20", timeoutMs: 300 });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(r.isError).toBe(true);
    expect(r.output).toMatch(/^started\n\[timed out after 0\.3 s/);
  });
});

describe("session tools", () => {
  it("spawn_session asks the sink to spawn a child and tells the model how its answer comes back", async () => {
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "spawn_session", input: { prompt: "Write the docs for shout()", title: "Docs" } }] },
      { text: "Spawned a helper." },
    ]);
    await runTask(fx.input());
    expect(fx.sink.spawns).toEqual([
      { sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/), prompt: "Write the docs for shout()", title: "Docs" },
    ]);
    const id = fx.sink.spawns[0]!.sessionId;
    expect(fx.sink.toolResults[0]!.output).toContain(`[Answer from spawned session ${id}]`);
  });

  it("todo_write replaces the card's list; a bad status is an error the model reads", async () => {
    const todos = [
      { text: "Read the code", status: "done" },
      { text: "Fix the bug", status: "in_progress" },
      { text: "Run the tests", status: "pending" },
    ];
    fx.server.script("anthropic", [
      { toolCalls: [{ name: "todo_write", input: { todos } }] },
      { toolCalls: [{ name: "todo_write", input: { todos: [{ text: "x", status: "later" }] } }] },
      { text: "ok" },
    ]);
    await runTask(fx.input());
    expect(fx.sink.states.filter((s) => s.todos)).toEqual([{ todos }]);
    expect(fx.sink.toolResults[0]!.output).toBe("Todo list updated: 1 done, 1 in progress, 1 pending.");
    expect(fx.sink.toolResults[1]).toMatchObject({ isError: true, output: expect.stringMatching(/status must be/) });
  });

  it("an unknown tool, or arguments that are not JSON, come back as errors and the task goes on", async () => {
    const ofx = await agentFixture("openai");
    try {
      ofx.server.script("openai", [
        {
          toolCalls: [
            { name: "rm_rf", input: {} },
            { name: "read_file", input: {}, rawArguments: '{"path": "READ' },
          ],
        },
        { text: "Sorry." },
      ]);
      expect((await runTask(ofx.input())).finalText).toBe("Sorry.");
      const [unknown, broken] = ofx.sink.toolResults;
      expect(unknown).toMatchObject({ isError: true, output: expect.stringMatching(/^There is no tool named rm_rf/) });
      expect(broken).toMatchObject({ isError: true, output: expect.stringMatching(/not valid JSON/) });
    } finally {
      await ofx.cleanup();
    }
  });
});
