import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/**
 * Local secrets live in `.dev.vars` (single-user mode) or `.dev.vars.accounts` (accounts mode), both
 * git-ignored, generated on first start: two files, so a token signed in one mode never verifies in
 * the other. Existing values are kept so sessions survive restarts; SINGLE_USER says the file's mode.
 */
export function ensureDevVars(path: string, singleUser: boolean): void {
  const vars = new Map<string, string>();
  if (existsSync(path)) {
    for (const line of readFileSync(path, "utf8").split("\n")) {
      const m = line.match(/^([A-Z_][A-Z0-9_]*)=(.*)$/);
      if (m) vars.set(m[1]!, m[2]!);
    }
  }
  if (!vars.get("JWT_SECRET")) vars.set("JWT_SECRET", randomBytes(32).toString("base64"));
  if (!vars.get("ENCRYPTION_KEY")) vars.set("ENCRYPTION_KEY", randomBytes(32).toString("base64"));
  vars.set("SINGLE_USER", singleUser ? "1" : "0");
  writeFileSync(path, `${[...vars].map(([k, v]) => `${k}=${v}`).join("\n")}\n`, { mode: 0o600 });
}
