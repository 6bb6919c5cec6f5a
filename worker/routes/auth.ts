import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { LoginBody, RefreshBody, RegisterBody } from "../../protocol/index.ts";
import { depsFor } from "../context.ts";
import { forbidden, unauthorized } from "../lib/errors.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { originAllowed } from "../middleware.ts";
import { localSession, login, loginSource, logout, REFRESH_TTL_MS, refresh, register } from "../services/users.ts";

const COOKIE = "trellis_refresh";

/** Browsers keep the refresh token in an HttpOnly cookie scoped to the auth routes. */
export function withCookie<T extends { refreshToken: string }>(c: Context<AppEnv>, session: T) {
  setCookie(c, COOKIE, session.refreshToken, {
    httpOnly: true,
    sameSite: "Strict",
    secure: new URL(c.req.url).protocol === "https:",
    path: "/api/auth",
    maxAge: REFRESH_TTL_MS / 1000,
  });
  return session;
}

export function checkOrigin(c: Context<AppEnv>) {
  if (!originAllowed(c.env, c.req.raw)) throw forbidden("Cross-origin request refused.", "bad_origin");
}

export const auth = new Hono<AppEnv>()
  .post("/register", valid("json", RegisterBody), async (c) => {
    checkOrigin(c);
    const s = await register(depsFor(c.env), c.req.valid("json"));
    return c.json(withCookie(c, s), 201);
  })
  .post("/login", valid("json", LoginBody), async (c) => {
    checkOrigin(c);
    const session = await login(depsFor(c.env), c.req.valid("json"), loginSource(c.req.header("cf-connecting-ip")));
    return c.json(withCookie(c, session));
  })
  .post("/refresh", valid("json", RefreshBody), async (c) => {
    checkOrigin(c);
    const token = c.req.valid("json").refreshToken ?? getCookie(c, COOKIE);
    if (!token) throw unauthorized("No session to refresh. Log in.", "invalid_refresh_token");
    try {
      return c.json(withCookie(c, await refresh(depsFor(c.env), token)));
    } catch (err) {
      deleteCookie(c, COOKIE, { path: "/api/auth" });
      throw err;
    }
  })
  .post("/logout", valid("json", RefreshBody), async (c) => {
    checkOrigin(c);
    const token = c.req.valid("json").refreshToken ?? getCookie(c, COOKIE);
    if (token) await logout(depsFor(c.env), token);
    deleteCookie(c, COOKIE, { path: "/api/auth" });
    return c.body(null, 204);
  })
  /** Single-user local mode only: a session for the local owner, no password. */
  .post("/local", async (c) => {
    checkOrigin(c);
    return c.json(withCookie(c, await localSession(depsFor(c.env))));
  });
