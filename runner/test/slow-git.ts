import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * git config, through the environment, that runs `post-checkout` from `dir/hooks` for every git the
 * runner starts: clones and `worktree add` both run it, so it makes them as slow as a test likes.
 */
export function slowGit(dir: string, script: string): NodeJS.ProcessEnv {
  const hooks = join(dir, "hooks");
  mkdirSync(hooks, { recursive: true });
  writeFileSync(join(hooks, "post-checkout"), `#!/bin/sh\n${script}\n`);
  chmodSync(join(hooks, "post-checkout"), 0o755);
  return { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "core.hooksPath", GIT_CONFIG_VALUE_0: hooks };
}
