import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorCode } from "../../protocol/index.ts";

/** An error a caller can act on: a stable code for programs, a message for people. */
export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, code: ErrorCode = "bad_request") => new AppError(400, code, message);
export const unauthorized = (message = "Sign in to continue.", code: ErrorCode = "unauthorized") =>
  new AppError(401, code, message);
export const forbidden = (message: string, code: ErrorCode = "forbidden") => new AppError(403, code, message);
/** Also what a non-member gets for a board: its existence is not confirmed. */
export const notFound = (what: string) => new AppError(404, "not_found", `${what} not found.`);
export const conflict = (message: string, code: ErrorCode = "conflict") => new AppError(409, code, message);
export const tooMany = (message: string) => new AppError(429, "rate_limited", message);
