import { describe, it } from "vitest";
import type { SandboxInfo } from "../../protocol/index.ts";

/** CI as CI services set it (`CI=true`, `CI=1`); `CI=false` or `0` is not. */
export const inCI = () => Boolean(process.env.CI) && !["false", "0"].includes(process.env.CI!.toLowerCase());

/**
 * Do the sandbox tests of `suite` run on this machine? Where it has no sandbox they would skip,
 * and a CI machine that silently skips them proves nothing: there the suite gets one failing test
 * saying what to install. Locally the skip stays, with the reason printed.
 */
export function sandboxTestsRun(info: SandboxInfo, suite: string): boolean {
  if (info.state === "on") return true;
  const why = `no sandbox on this machine: ${info.detail ?? info.state}`;
  if (inCI()) {
    describe(suite, () => {
      it("has an OS sandbox to run in (CI must not skip these)", () => {
        throw new Error(
          `${suite}: ${why}. CI runs the sandbox tests: install bubblewrap and socat (and ripgrep) on the CI machine, e.g. \`apt-get install bubblewrap socat ripgrep\`, and allow unprivileged user namespaces.`,
        );
      });
    });
  } else console.warn(`${suite} skipped: ${why}`);
  return false;
}
