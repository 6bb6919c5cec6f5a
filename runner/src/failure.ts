import type { JobFailureCode, JobFailureDetail } from "../../protocol/index.ts";

/**
 * A job failure the board can act on: git's words (or ours) in the message, plus a code and what
 * the runner found on disk, both sent with the failed completion.
 */
export class JobFailure extends Error {
  readonly code: JobFailureCode | undefined;
  readonly detail: JobFailureDetail;
  constructor(message: string, code?: JobFailureCode, detail: JobFailureDetail = {}) {
    super(message);
    this.name = "JobFailure";
    this.code = code;
    this.detail = detail;
  }

  /** Any error, with what the runner found on disk added to it. */
  static from(err: unknown, detail: JobFailureDetail): JobFailure | unknown {
    if (err instanceof JobFailure) return new JobFailure(err.message, err.code, { ...detail, ...err.detail });
    if (err instanceof Error) {
      const f = new JobFailure(err.message, undefined, detail);
      f.stack = err.stack;
      return f;
    }
    return err;
  }
}
