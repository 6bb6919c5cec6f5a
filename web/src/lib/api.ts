import { type ClientResponse, hc } from "hono/client";
import type { User } from "../../../protocol/index.ts";
import type { AppType } from "../../../worker/app.ts";
import { Store } from "./store.ts";

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

export type AuthState =
  | { status: "loading" }
  | { status: "signedOut"; notice?: string; singleUser: boolean }
  | { status: "signedIn"; user: User; singleUser: boolean };

/** Who is signed in. The access token itself stays in this module's memory, never in storage. */
export const auth = new Store<AuthState>({ status: "loading" });

let accessToken: string | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let singleUser = false;

/** Calls that must not carry the access token or trigger a refresh (login, register, refresh itself). */
const plain = hc<AppType>(location.origin);

async function authedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const send = () => {
    const headers = new Headers(init?.headers);
    if (accessToken) headers.set("authorization", `Bearer ${accessToken}`);
    return fetch(input, { ...init, headers });
  };
  const res = await send();
  // The access token may have expired while the tab slept: refresh once and retry once.
  if (res.status !== 401 || !accessToken) return res;
  return (await refreshSession()) ? send() : res;
}

export const api = hc<AppType>(location.origin, { fetch: authedFetch });

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

type SessionBody = { user: User; accessToken: string; expiresIn: number };

function startSession(s: SessionBody) {
  accessToken = s.accessToken;
  clearTimeout(refreshTimer);
  // Refresh a minute early so a request never goes out with a token about to lapse.
  refreshTimer = setTimeout(() => void refreshSession(), Math.max(5, s.expiresIn - 60) * 1000);
  auth.set({ status: "signedIn", user: s.user, singleUser });
}

function endSession(notice?: string) {
  accessToken = null;
  clearTimeout(refreshTimer);
  auth.set({ status: "signedOut", notice, singleUser });
}

let refreshing: Promise<boolean> | null = null;

/**
 * Trade the HttpOnly refresh cookie for a new access token. Refresh tokens rotate and a reused one
 * revokes the whole family, so tabs of one browser take turns under a Web Lock: the second tab then
 * presents the cookie the first one just received instead of the spent one.
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= withLock(async () => {
    try {
      startSession(await unwrap(plain.api.auth.refresh.$post({ json: {} })));
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 0) return false;
      endSession(auth.get().status === "signedIn" ? messageOf(err) : undefined);
      return false;
    }
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function withLock<T>(fn: () => Promise<T>): Promise<T> {
  return navigator.locks ? navigator.locks.request("trellis-auth-refresh", fn) : fn();
}

/** Boot: single-user installs go straight in; otherwise try to resume a session from the cookie. */
export async function boot(): Promise<void> {
  try {
    singleUser = (await unwrap(plain.api.config.$get())).singleUser;
  } catch (err) {
    auth.set({ status: "signedOut", notice: messageOf(err), singleUser: false });
    return;
  }
  if (singleUser) {
    try {
      startSession(await unwrap(plain.api.auth.local.$post()));
    } catch (err) {
      endSession(messageOf(err));
    }
    return;
  }
  await refreshSession();
  if (auth.get().status === "loading") endSession();
}

export async function login(email: string, password: string): Promise<void> {
  startSession(await unwrap(plain.api.auth.login.$post({ json: { email, password } })));
}

export async function register(name: string, email: string, password: string): Promise<void> {
  startSession(await unwrap(plain.api.auth.register.$post({ json: { name, email, password } })));
}

/** Ends every other sign-in; this tab carries on with the new session the edge answers with. */
export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  startSession(await unwrap(api.api.me.password.$post({ json: { currentPassword, newPassword } })));
}

export async function logout(): Promise<void> {
  try {
    await expectOk(plain.api.auth.logout.$post({ json: {} }));
  } finally {
    endSession();
  }
}
