import type { ClientResponse, hc } from "hono/client";
import type { AppType } from "../../../worker/app.ts";

/**
 * The typed API client and the helpers that read its answers. Apart from `api.ts` (which binds the
 * client to this page's origin and sign-in) so the board's stores can take a client as an argument
 * and be tested in Node against a fake of the HTTP answers.
 */
export type ApiClient = ReturnType<typeof hc<AppType>>;

/** An API refusal, carrying the `{error:{code,message}}` the Worker sends so the UI can show it as is. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Reply = ClientResponse<unknown, number, string>;
/** The success body of a typed call (error bodies never reach the caller: they are thrown). */
type Body<R> = R extends ClientResponse<infer T, number, "json"> ? T : never;

async function errorOf(res: Reply): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(res.status, body.error.code ?? "error", body.error.message);
  } catch {}
  return new ApiError(res.status, "http_error", `The server answered ${res.status}. Try again.`);
}

/** Await a typed client call and return its JSON, or throw the API's error as an ApiError. */
export async function unwrap<R extends Reply>(call: Promise<R>): Promise<Body<R>> {
  let res: R;
  try {
    res = await call;
  } catch {
    throw new ApiError(0, "network", "Cannot reach Trellis. Check your connection and try again.");
  }
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as Body<R>;
}

/** For calls answered with 204 No Content. */
export async function expectOk(call: Promise<Reply>): Promise<void> {
  let res: Reply;
  try {
    res = await call;
  } catch {
    throw new ApiError(0, "network", "Cannot reach Trellis. Check your connection and try again.");
  }
  if (!res.ok) throw await errorOf(res);
}

export const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
