import { useState } from "react";
import type { Runner } from "../../../protocol/index.ts";
import { messageOf } from "../lib/api.ts";
import type { RunnerStore } from "../runners/store.ts";
import { confirm } from "../ui/confirm.tsx";
import { notify } from "../ui/notices.tsx";

/**
 * The owner's switch on a runner: may it run the stdio MCP servers that members of the boards it
 * is shared with added? Off by default, and turning it on says plainly what it gives away. A
 * runner started with TRELLIS_MCP_BOARD_STDIO=1 runs them whatever the switch says: shown as on,
 * and only a restart without the variable turns it off.
 */
export function BoardMcpStdioSetting({ runner, store }: { runner: Runner; store: RunnerStore }) {
  const [busy, setBusy] = useState(false);
  const byEnv = runner.info.mcpBoardStdio === true;
  const on = runner.boardMcpStdio || byEnv;
  const set = async (next: boolean) => {
    if (next) {
      const ok = await confirm({
        title: `Run board members' stdio MCP servers on “${runner.name}”?`,
        body: "A stdio MCP server is a command this runner starts on this machine, as your OS user, when a session picks it. Any member of a board this runner is shared with could then add or change one to run whatever they like here: read your files and keys, push with your git credentials, delete things. Turn it on only for people you would hand your keyboard to.",
        confirmLabel: "Run their servers",
      });
      if (!ok) return;
    }
    setBusy(true);
    try {
      await store.setBoardMcpStdio(runner.id, next);
    } catch (err) {
      notify(messageOf(err), "error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className={`term-access${on ? " term-access-on" : ""}`} data-testid="board-mcp-stdio">
      <label className="term-access-row">
        <input
          type="checkbox"
          checked={on}
          disabled={busy || byEnv}
          onChange={(e) => void set(e.target.checked)}
          data-testid="board-mcp-stdio-toggle"
        />
        <span>Run board members' stdio MCP servers</span>
      </label>
      <p className="small muted">
        {byEnv ? (
          <>
            On: this runner was started with <code>TRELLIS_MCP_BOARD_STDIO=1</code>, which runs them whatever this says.
            Restart it without that to decide here.
          </>
        ) : on ? (
          "On: stdio MCP servers that members of its boards added or changed run here, as you."
        ) : (
          "Off: only the stdio MCP servers you added (and were last to change) run here. Others' are skipped, and their sessions say why."
        )}
      </p>
    </div>
  );
}
