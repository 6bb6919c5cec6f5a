/** What a program can branch on when a task fails; the message is for the person. */
export type AgentErrorCode =
  | "no_credentials"
  | "auth"
  | "forbidden"
  | "model_not_found"
  | "bad_request"
  | "retries_exhausted"
  | "worktree_missing"
  | "provider";

/** A failure in plain words: a bad key, a model that does not exist, retries that ran out. */
export class AgentError extends Error {
  readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AgentError";
    this.code = code;
  }
}
