import { useState } from "react";
import type { Runner } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import type { RunnerStore } from "../runners/store.ts";
import { confirm } from "../ui/confirm.tsx";
import { notify } from "../ui/notices.tsx";

/**
 * The owner's switch on a runner: may the members of the boards it is shared with open terminals
 * on it? Off by default, and turning it on says plainly what it gives away.
 */
export function TerminalAccessSetting({ runner, store }: { runner: Runner; store: RunnerStore }) {
  const [busy, setBusy] = useState(false);
  const on = runner.terminalAccess === "boards";
  const set = async (next: boolean) => {
    if (next) {
      const ok = await confirm({
        title: `Let board members open terminals on “${runner.name}”?`,
        body: "A terminal is a shell on this machine, running as your OS user. Members of every board this runner is shared with could then run any command you could: read your files and keys, push with your git credentials, delete things. Board viewers could watch. Turn it on only for people you would hand your keyboard to.",
        confirmLabel: "Allow terminals",
      });
      if (!ok) return;
    }
    setBusy(true);
    try {
      await store.setTerminalAccess(runner.id, next ? "boards" : "owner");
    } catch (err) {
      notify(messageOf(err), "error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className={`term-access${on ? " term-access-on" : ""}`} data-testid="terminal-access">
      <label className="term-access-row">
        <input
          type="checkbox"
          checked={on}
          disabled={busy}
          onChange={(e) => void set(e.target.checked)}
          data-testid="terminal-access-toggle"
        />
        <span>Members of shared boards may open terminals</span>
      </label>
      <p className="small muted">
        {on
          ? "On: members of the boards it is shared with can run commands on this machine as you; viewers can watch."
          : "Off: only you can open terminals on this machine. A terminal is a shell here, as your OS user."}
      </p>
    </div>
  );
}
