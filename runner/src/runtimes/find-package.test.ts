import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { findPackage } from "./detect.ts";

/** A global npm prefix of our own, as `npm i -g` would fill it: `<prefix>/lib/node_modules/<name>`. */
const prefixes: string[] = [];
function prefix(packages: Record<string, Record<string, unknown>>): string {
  const dir = mkdtempSync(join(tmpdir(), "trellis-npm-prefix-"));
  prefixes.push(dir);
  for (const [name, pkg] of Object.entries(packages)) {
    const at = join(dir, "lib", "node_modules", name);
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, "package.json"), JSON.stringify(pkg));
  }
  return dir;
}
afterEach(() => {
  for (const d of prefixes.splice(0)) rmSync(d, { recursive: true, force: true });
});

const NAME = "@trellis-test/not-installed-sdk";

describe("finding a runtime's package", () => {
  it("finds one installed globally under the npm prefix in the environment, with its version and ESM entry", () => {
    const p = prefix({
      [NAME]: { version: "1.2.3", exports: { ".": { types: "./x.d.ts", import: "./dist/index.js" } } },
    });
    for (const env of [{ npm_config_prefix: p }, { NPM_CONFIG_PREFIX: p }]) {
      const found = findPackage(NAME, env);
      expect(found).toEqual({ version: "1.2.3", entry: expect.stringMatching(/^file:\/\//) });
      expect(fileURLToPath(found!.entry)).toBe(join(p, "lib", "node_modules", NAME, "dist", "index.js"));
    }
  });

  it("reads the entry from exports as a string, else module, else main", () => {
    const entry = (pkg: Record<string, unknown>) => {
      const found = findPackage(NAME, { npm_config_prefix: prefix({ [NAME]: { version: "1.0.0", ...pkg } }) });
      return found && fileURLToPath(found.entry).split(`${NAME}/`)[1];
    };
    expect(entry({ exports: { ".": "./a.js" } })).toBe("a.js");
    expect(entry({ exports: { ".": { default: "./d.js" } } })).toBe("d.js");
    expect(entry({ module: "./m.js", main: "./c.js" })).toBe("m.js");
    expect(entry({ main: "./c.js" })).toBe("c.js");
  });

  it("is null where it is not installed, or its package.json has no version or entry, or is not JSON", () => {
    expect(findPackage(NAME, {})).toBeNull();
    expect(findPackage(NAME, { npm_config_prefix: prefix({}) })).toBeNull();
    expect(findPackage(NAME, { npm_config_prefix: prefix({ [NAME]: { main: "./c.js" } }) })).toBeNull();
    expect(findPackage(NAME, { npm_config_prefix: prefix({ [NAME]: { version: "1.0.0" } }) })).toBeNull();
    const broken = prefix({ [NAME]: {} });
    writeFileSync(join(broken, "lib", "node_modules", NAME, "package.json"), "{ not json");
    expect(findPackage(NAME, { npm_config_prefix: broken })).toBeNull();
  });

  it("takes the runner's own node_modules before a global install", () => {
    const local = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../../node_modules/@openai/codex-sdk/package.json"), "utf8"),
    ) as { version: string };
    const p = prefix({ "@openai/codex-sdk": { version: "0.0.1-global", main: "./index.js" } });
    expect(findPackage("@openai/codex-sdk", { npm_config_prefix: p })?.version).toBe(local.version);
  });
});
