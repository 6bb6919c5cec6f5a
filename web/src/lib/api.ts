import { hc } from "hono/client";
import type { User } from "../../../protocol/index.ts";
import type { AppType } from "../../../worker/app.ts";
import { type ApiClient, ApiError, expectOk, messageOf, unwrap } from "./http.ts";
import { Store } from "./store.ts";

export { type ApiClient, ApiError, expectOk, messageOf, unwrap } from "./http.ts";

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

export const api: ApiClient = hc<AppType>(location.origin, { fetch: authedFetch });

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
