/**
 * The environment a terminal's shell (and the tmux server that holds it) starts with: the
 * runner's own, minus anything that would hand the shell the runner's credential, its Trellis
 * config or someone's API keys. A person in the terminal is the runner's OS user and could read
 * files that user can read; what the runner was started with does not have to come along.
 */

/** Names that are dropped: Trellis's own, the model providers', npm's (tokens live there), nesting tmux. */
const DROP_PREFIXES = ["TRELLIS_", "ANTHROPIC_", "OPENAI_", "CLAUDE_", "CODEX_", "npm_"];
const DROP_NAMES = new Set(["TMUX", "TMUX_PANE", "INIT_CWD"]);
/** Anything named like a secret. */
const SECRET_NAME = /TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL/i;
/** Values that look like a Trellis credential, whatever their name. */
const TRELLIS_VALUE = /\btrl_[a-z]+_/;

export function isSecretName(name: string): boolean {
  return DROP_NAMES.has(name) || DROP_PREFIXES.some((p) => name.startsWith(p)) || SECRET_NAME.test(name);
}

/**
 * `base` without what a shell must not see. `secrets` are values (the runner credential) that are
 * dropped wherever they appear. The terminal is an xterm that speaks UTF-8 and 256 colours.
 */
export function shellEnv(base: NodeJS.ProcessEnv, secrets: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || isSecretName(name)) continue;
    if (TRELLIS_VALUE.test(value) || secrets.some((s) => s && value.includes(s))) continue;
    out[name] = value;
  }
  out.TERM = "xterm-256color";
  out.COLORTERM = "truecolor";
  // tmux draws non-ASCII as `_` unless the locale says UTF-8.
  const locale = out.LC_ALL || out.LC_CTYPE || out.LANG || "";
  if (!/utf-?8/i.test(locale)) {
    delete out.LC_ALL;
    out.LANG = process.platform === "darwin" ? "en_US.UTF-8" : "C.UTF-8";
    out.LC_CTYPE = out.LANG;
  }
  return out;
}
