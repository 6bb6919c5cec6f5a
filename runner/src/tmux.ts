import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * tmux, as the runner drives it: its own server (`tmux -L trellis`, never the person's own), one
 * session per terminal named by the terminal's id and tagged with the runner's id, its own config
 * (no status bar, no alternate screen on the outer terminal so the board's scrollback fills, UTF-8).
 * tmux is what keeps a shell alive across browser reloads, link cuts and runner restarts.
 */

export const TMUX_MISSING =
  "tmux is not installed on the runner's machine, and terminals need it: install it (apt-get install tmux, or brew install tmux on a Mac), then open a new terminal.";

export class TmuxMissing extends Error {
  constructor() {
    super(TMUX_MISSING);
    this.name = "TmuxMissing";
  }
}

/** The option that says which runner made a session: a machine may hold more than one runner. */
const RUNNER_OPTION = "@trellis_runner";

const CONFIG = `# Written by trellis-runner for its own tmux server (tmux -L …); your ~/.tmux.conf is not read.
set -g status off
set -g history-limit 5000
set -g escape-time 0
set -g set-titles off
set -g mouse off
set -g focus-events off
set -g exit-empty on
set -g destroy-unattached off
set -g window-size latest
set -g default-terminal "tmux-256color"
set -ga terminal-overrides ",xterm-256color:Tc"
# The board's terminal keeps what scrolls off in its own scrollback: no alternate screen out there.
set -ga terminal-overrides ",xterm*:smcup@:rmcup@"
`;

const has = (cmd: string, args: string[]) =>
  new Promise<boolean>((resolve) => execFile(cmd, args, { timeout: 5000 }, (err) => resolve(!err)));

export interface Screen {
  /** Recent scrollback and the visible screen, with colours, ready to write to a fresh xterm. */
  data: string;
  cols: number;
  rows: number;
}

export interface TmuxOptions {
  /** The `-L` socket name. */
  socket: string;
  /** Where the config file is written. */
  dir: string;
  runnerId: string;
  /** The environment tmux (and every shell it starts) gets: already scrubbed. */
  env: Record<string, string>;
}

export class Tmux {
  private configPath: string;
  private ready: Promise<void> | null = null;

  private readonly o: TmuxOptions;

  constructor(o: TmuxOptions) {
    this.o = o;
    this.configPath = join(o.dir, "tmux.conf");
  }

  /** Run one tmux command (or several, separated by a ";" argument). */
  run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        "tmux",
        ["-u", "-L", this.o.socket, "-f", this.configPath, ...args],
        { env: this.o.env, encoding: "utf8", maxBuffer: 32 * 1024 * 1024, timeout: 10_000 },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          if ((err as NodeJS.ErrnoException).code === "ENOENT") return reject(new TmuxMissing());
          reject(new Error(stderr.trim() || err.message));
        },
      );
    });
  }

  /** tmux is there (throws `TmuxMissing` if not), and its config is written. */
  ensure(): Promise<void> {
    this.ready ??= (async () => {
      // tmux's own terminal type where the machine has its description (not every Mac does).
      const term = (await has("infocmp", ["tmux-256color"])) ? "tmux-256color" : "screen-256color";
      await writeFile(this.configPath, CONFIG.replace('"tmux-256color"', `"${term}"`), { mode: 0o600 });
      try {
        await this.run(["-V"]);
      } catch (err) {
        this.ready = null;
        throw err;
      }
    })();
    return this.ready;
  }

  async has(id: string): Promise<boolean> {
    await this.ensure();
    try {
      await this.run(["has-session", "-t", `=${id}`]);
      return true;
    } catch (err) {
      if (err instanceof TmuxMissing) throw err;
      return false;
    }
  }

  /** The sessions this runner made that are alive (none when tmux's server is not running). */
  async sessions(): Promise<string[]> {
    try {
      await this.ensure();
      const out = await this.run(["list-sessions", "-F", `#{session_name} #{${RUNNER_OPTION}}`]);
      return out
        .split("\n")
        .map((l) => l.split(" "))
        .filter(([name, runner]) => name && runner === this.o.runnerId)
        .map(([name]) => name!);
    } catch {
      return [];
    }
  }

  async create(id: string, cwd: string, size: { cols: number; rows: number }): Promise<void> {
    await this.ensure();
    await this.run([
      "new-session",
      "-d",
      "-s",
      id,
      "-c",
      cwd,
      "-x",
      String(size.cols),
      "-y",
      String(size.rows),
      ";",
      "set-option",
      "-t",
      `=${id}:`,
      RUNNER_OPTION,
      this.o.runnerId,
    ]);
  }

  async kill(id: string): Promise<void> {
    await this.run(["kill-session", "-t", `=${id}`]).catch(() => {});
  }

  async size(id: string): Promise<{ cols: number; rows: number } | null> {
    try {
      const [cols, rows] = (await this.run(["display-message", "-p", "-t", `=${id}:`, "#{pane_width} #{pane_height}"]))
        .trim()
        .split(" ")
        .map(Number);
      return cols && rows ? { cols, rows } : null;
    } catch {
      return null;
    }
  }

  /**
   * The screen as a late viewer should see it: up to `history` lines of scrollback and the
   * visible screen with their colours, then the cursor where tmux has it. Lines are joined where
   * they wrapped, so they wrap again at the viewer's (equal) width.
   */
  async capture(id: string, history: number): Promise<Screen> {
    const t = `=${id}:`;
    const out = await this.run([
      "capture-pane",
      "-p",
      "-e",
      "-J",
      "-S",
      String(-history),
      "-t",
      t,
      ";",
      "display-message",
      "-p",
      "-t",
      t,
      "#{cursor_x} #{cursor_y} #{pane_width} #{pane_height}",
    ]);
    const lines = out.split("\n");
    if (lines.at(-1) === "") lines.pop();
    const [x, y, cols, rows] = (lines.pop() ?? "0 0 80 24").split(" ").map(Number) as [number, number, number, number];
    // Every screen row is a line (blank ones too), so the last `rows` lines land on the screen.
    const data = `\x1b[0m${lines.join("\r\n")}\x1b[0m\x1b[${y + 1};${x + 1}H`;
    return { data, cols, rows };
  }

  /** Ask tmux to redraw one client's whole screen (the client of the runner's PTY, by its pid). */
  async redraw(clientPid: number): Promise<void> {
    try {
      const out = await this.run(["list-clients", "-F", "#{client_pid} #{client_name}"]);
      const name = out
        .split("\n")
        .map((l) => l.split(" "))
        .find(([pid]) => Number(pid) === clientPid)?.[1];
      if (name) await this.run(["refresh-client", "-t", name]);
    } catch {
      // A redraw is a nicety: the screen was sent already.
    }
  }
}
