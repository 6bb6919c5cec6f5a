import { z } from "zod";
import { HttpUrl, Text } from "./common.ts";

/**
 * A person's own provider keys and environment variables. The edge keeps them sealed (AES-GCM
 * under ENCRYPTION_KEY, bound to the user and the name); no client ever reads a value back, only
 * its last four characters. They leave the edge only inside the claim of a task that person
 * prompted, to the runner holding that task's lease (`TaskContext.secrets`).
 *
 * REST (`/api/me/secrets`, the signed-in person; not a session's agent token):
 * - `GET    /` → `{ items: UserSecret[] }` (names, last four, never a value)
 * - `PUT    keys/:provider` `PutKeyBody` → `UserSecret` (add or replace)
 * - `DELETE keys/:provider` → 204
 * - `PUT    env/:name` `PutEnvBody` → `UserSecret`
 * - `DELETE env/:name` → 204
 */

export const KEY_PROVIDERS = ["anthropic", "openai", "openai-compatible"] as const;
export const KeyProvider = z.enum(KEY_PROVIDERS);
export type KeyProvider = z.infer<typeof KeyProvider>;
export const KEY_PROVIDER_LABELS: Record<KeyProvider, string> = {
  anthropic: "Anthropic",
  openai: "OpenAI",
  "openai-compatible": "OpenAI-compatible server",
};

export const SecretKind = z.enum(["key", "env"]);
export type SecretKind = z.infer<typeof SecretKind>;

/**
 * Which credentials a task's model client used: the prompter's own, the runner's environment, or
 * (Claude Code only) the runner machine's own Claude sign-in, which goes before anyone's key.
 */
export const KeySource = z.enum(["user", "runner", "login"]);
export type KeySource = z.infer<typeof KeySource>;

/** How many environment variables one person may keep. */
export const MAX_ENV_VARS = 100;

/**
 * Names that would take over the agent's processes or the runner itself rather than configure
 * a tool: the search path, the loader, the shells' start-up hooks, git's idea of where the
 * repository is, and Trellis's own settings.
 */
const RESERVED_NAMES = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "PWD",
  "OLDPWD",
  "TMPDIR",
  // Where Codex and Claude Code keep their config and sessions: the runner's to choose, not a prompter's.
  "CODEX_HOME",
  "CLAUDE_CONFIG_DIR",
  "IFS",
  "ENV",
  "BASH_ENV",
  "PS4",
  "PROMPT_COMMAND",
  "NODE_OPTIONS",
  "NODE_PATH",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "PERL5OPT",
  "RUBYOPT",
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_EXEC_PATH",
  "GIT_TERMINAL_PROMPT",
]);
const RESERVED_PREFIXES = ["LD_", "DYLD_", "TRELLIS_", "GIT_CONFIG", "BASH_FUNC_"];

/** Why a name cannot be stored, or null. The runner asks the same before it uses one. */
export function envNameProblem(name: string): string | null {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) return "must be capital letters, digits and _ (not starting with a digit)";
  if (name.length > 128) return "must be at most 128 characters";
  if (RESERVED_NAMES.has(name) || RESERVED_PREFIXES.some((p) => name.startsWith(p)))
    return `${name} is reserved: it would change how the runner and its tools start, not configure them`;
  return null;
}

export const EnvName = Text.superRefine((name, ctx) => {
  const problem = envNameProblem(name);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const SecretValue = Text.min(1, "must not be empty").max(10_000, "must be at most 10,000 characters");
export const ApiKeyValue = Text.trim()
  .min(1, "must not be empty")
  .max(1000, "must be at most 1,000 characters")
  .refine((s) => !/\s/.test(s), "must not contain spaces or line breaks");

/** An OpenAI-compatible server may take no key (a local Ollama): then send only `baseUrl`. */
export const PutKeyBody = z.object({
  apiKey: ApiKeyValue.optional(),
  baseUrl: HttpUrl.optional(),
});
export type PutKeyBody = z.infer<typeof PutKeyBody>;
export const PutEnvBody = z.object({ value: SecretValue });
export type PutEnvBody = z.infer<typeof PutEnvBody>;

export const UserSecret = z.object({
  kind: SecretKind,
  /** The provider (`key`) or the variable's name (`env`). */
  name: z.string(),
  /** The value's last four characters; null when it is too short to show any of it safely (or empty). */
  last4: z.string().nullable(),
  /** Where an OpenAI-compatible key is sent; null otherwise. */
  baseUrl: z.string().nullable(),
  updatedAt: z.number(),
});
export type UserSecret = z.infer<typeof UserSecret>;

/**
 * What the runner holding a task's lease gets with its context: the prompter's key for the
 * session's provider, if they saved one (`keySource: "user"`), and their environment variables,
 * which go to the agent's shell only, never into the runner's own environment.
 */
export const TaskSecrets = z.object({
  keySource: KeySource,
  /** Present when `keySource` is `user`: the key, and for OpenAI-compatible where to send it. */
  model: z.object({ apiKey: z.string(), baseUrl: z.string().nullable() }).nullable(),
  env: z.record(z.string(), z.string()),
});
export type TaskSecrets = z.infer<typeof TaskSecrets>;
