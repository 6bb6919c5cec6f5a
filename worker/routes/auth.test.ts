import { beforeAll, describe, expect, it } from "vitest";
import type { AuthSession } from "../../protocol/index.ts";
import {
  call,
  expectError,
  json,
  PASSWORD,
  registerUser,
  type TestUser,
  testEnv,
  uniqueEmail,
} from "../../test/helpers.ts";
import { depsFor } from "../context.ts";
import { LOCAL_OWNER_EMAIL, localSession } from "../services/users.ts";

const post = (path: string, body?: unknown, headers?: Record<string, string>) =>
  call(path, { method: "POST", json: body, headers });

/** Every password check costs a scrypt: one shared account serves the tests that only read it. */
let shared: TestUser;
beforeAll(async () => {
  shared = await registerUser("Shared");
});

/** The refresh cookie's value from a Set-Cookie header. */
const cookieValue = (res: Response) => res.headers.get("set-cookie")?.match(/trellis_refresh=([^;]*)/)?.[1];

describe("register", () => {
  it("creates an account, returns a session and sets an HttpOnly refresh cookie", async () => {
    const email = uniqueEmail("Ada");
    const res = await post("/api/auth/register", {
      email: `  ${email.toUpperCase()} `,
      password: PASSWORD,
      name: "Ada",
    });
    expect(res.status).toBe(201);
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/trellis_refresh=trl_rt_/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Path=\/api\/auth/);
    const body = await res.json<AuthSession>();
    expect(body.user).toMatchObject({ email, name: "Ada" });
    expect(body.user.color).toMatch(/^#[0-9a-f]{6}$/);
    expect(body.user).not.toHaveProperty("passwordHash");
    expect(body.accessToken.split(".")).toHaveLength(3);
    expect(body.refreshToken).toBe(cookieValue(res));
  });

  it("refuses a duplicate email (case-insensitively) with 409", async () => {
    const err = await expectError(
      post("/api/auth/register", { email: shared.email.toUpperCase(), password: PASSWORD, name: "Again" }),
      409,
      "email_taken",
    );
    expect(err.message).toMatch(/already exists/);
  });

  it.each([
    ["too short", "short1", /at least 10 characters/],
    ["too simple", "aaaaaaaaaaaa", /too simple/],
  ])("refuses a weak password (%s) with 400 and says why", async (_, password, why) => {
    const err = await expectError(
      post("/api/auth/register", { email: uniqueEmail(), password, name: "Weak" }),
      400,
      "bad_request",
    );
    expect(err.message).toMatch(/password/);
    expect(err.message).toMatch(why);
  });

  it("refuses an invalid email with 400", async () => {
    const err = await expectError(
      post("/api/auth/register", { email: "not-an-email", password: PASSWORD, name: "X" }),
      400,
    );
    expect(err.message).toMatch(/email: must be a valid email address/);
  });

  it("refuses a missing name with 400", async () => {
    const err = await expectError(post("/api/auth/register", { email: uniqueEmail(), password: PASSWORD }), 400);
    expect(err.message).toMatch(/name/);
  });

  it("refuses a name that is not valid text (a lone surrogate) with 400", async () => {
    const res = call("/api/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"email":"${uniqueEmail()}","password":"${PASSWORD}","name":"Bad \\ud800 name"}`,
    });
    const err = await expectError(res, 400, "bad_request");
    expect(err.message).toMatch(/name/);
  });

  it("refuses a cross-origin registration", async () => {
    await expectError(
      post(
        "/api/auth/register",
        { email: uniqueEmail(), password: PASSWORD, name: "X" },
        { origin: "https://evil.example" },
      ),
      403,
      "bad_origin",
    );
  });
});

describe("login", () => {
  it("signs in with the right password and refuses the wrong one", async () => {
    const u = shared;
    const ok = await post("/api/auth/login", { email: u.email, password: PASSWORD });
    expect(ok.status).toBe(200);
    expect(cookieValue(ok)).toMatch(/^trl_rt_/);
    const s = await ok.json<AuthSession>();
    expect(s.user.id).toBe(u.id);
    expect((await call("/api/me", { token: s.accessToken })).status).toBe(200);

    const err = await expectError(
      post("/api/auth/login", { email: u.email, password: "wrong password!" }),
      401,
      "invalid_credentials",
    );
    expect(err.message).toBe("Wrong email or password.");
  });

  it("gives an unknown email the same answer as a wrong password", async () => {
    const err = await expectError(
      post("/api/auth/login", { email: uniqueEmail("ghost"), password: PASSWORD }),
      401,
      "invalid_credentials",
    );
    expect(err.message).toBe("Wrong email or password.");
  });

  it("slows down repeated failed logins with 429 after the free failures", async () => {
    const u = await registerUser("Guess");
    for (let i = 0; i < 5; i++) {
      await expectError(post("/api/auth/login", { email: u.email, password: `guess-${i}-wrong` }), 401);
    }
    const err = await expectError(post("/api/auth/login", { email: u.email, password: PASSWORD }), 429, "rate_limited");
    expect(err.message).toMatch(/Try again in \d+ s/);
  });

  it("counts concurrent failed logins too: a burst cannot skip the throttle", async () => {
    const email = uniqueEmail("burst");
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => post("/api/auth/login", { email, password: `burst-${i}-wrong` })),
    );
    const statuses = results.map((r) => r.status);
    // At most the free failures get a password check; the rest are told to wait.
    const tried = statuses.filter((s) => s === 401).length;
    expect(tried).toBeGreaterThan(0);
    expect(tried).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(8 - tried);
  });
});

describe("refresh and logout", () => {
  it("rotates: the new token works, the old one is refused as reused, and its family dies", async () => {
    const u = await registerUser("Rotate");
    const r1 = await post("/api/auth/refresh", { refreshToken: u.refreshToken });
    expect(r1.status).toBe(200);
    const s1 = await r1.json<AuthSession>();
    expect(s1.refreshToken).not.toBe(u.refreshToken);
    expect(s1.user.id).toBe(u.id);
    expect((await call("/api/me", { token: s1.accessToken })).status).toBe(200);

    const r2 = await post("/api/auth/refresh", { refreshToken: s1.refreshToken });
    expect(r2.status).toBe(200);
    const s2 = await r2.json<AuthSession>();

    // Replaying a spent token revokes the whole family, including the newest token.
    const reused = await post("/api/auth/refresh", { refreshToken: u.refreshToken });
    await expectError(reused, 401, "token_reused");
    await expectError(post("/api/auth/refresh", { refreshToken: s2.refreshToken }), 401, "invalid_refresh_token");
  });

  it("reuse of one login's token leaves the user's other logins alone", async () => {
    const u = await registerUser("Families");
    const other = await json<AuthSession>(post("/api/auth/login", { email: u.email, password: PASSWORD }));
    await post("/api/auth/refresh", { refreshToken: u.refreshToken });
    await expectError(post("/api/auth/refresh", { refreshToken: u.refreshToken }), 401, "token_reused");
    expect((await post("/api/auth/refresh", { refreshToken: other.refreshToken })).status).toBe(200);
  });

  it("refreshes from the HttpOnly cookie, with no body", async () => {
    const u = await registerUser("Cookie");
    const res = await call("/api/auth/refresh", {
      method: "POST",
      headers: { cookie: `trellis_refresh=${u.refreshToken}` },
    });
    expect(res.status).toBe(200);
    const s = await res.json<AuthSession>();
    expect(cookieValue(res)).toBe(s.refreshToken);
    expect(s.refreshToken).not.toBe(u.refreshToken);
  });

  it("with no token at all says to log in, and clears a bad cookie", async () => {
    await expectError(post("/api/auth/refresh", {}), 401, "invalid_refresh_token");
    const bad = await call("/api/auth/refresh", { method: "POST", headers: { cookie: "trellis_refresh=trl_rt_nope" } });
    expect(bad.headers.get("set-cookie")).toMatch(/trellis_refresh=;.*Max-Age=0/);
    await expectError(bad, 401, "invalid_refresh_token");
  });

  it("logout revokes the refresh family and clears the cookie", async () => {
    const u = await registerUser("Logout");
    const s1 = await json<AuthSession>(post("/api/auth/refresh", { refreshToken: u.refreshToken }));
    const out = await call("/api/auth/logout", {
      method: "POST",
      headers: { cookie: `trellis_refresh=${s1.refreshToken}` },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/trellis_refresh=;/);
    await expectError(post("/api/auth/refresh", { refreshToken: s1.refreshToken }), 401);
  });

  it("logout with nothing to revoke still succeeds", async () => {
    expect((await post("/api/auth/logout", {})).status).toBe(204);
  });
});

describe("me and single-user mode", () => {
  it("GET /api/me returns the caller, and asks for sign-in without a token", async () => {
    const me = await json(call("/api/me", { token: shared.token }));
    expect(me).toMatchObject({ id: shared.id, email: shared.email, name: "Shared" });
    await expectError(call("/api/me"), 401, "unauthorized");
    await expectError(call("/api/me", { token: "garbage" }), 401, "invalid_token");
  });

  it("refuses /api/auth/local when SINGLE_USER is off", async () => {
    await expectError(post("/api/auth/local"), 403, "single_user_off");
    expect(await json(call("/api/config"))).toMatchObject({ singleUser: false });
  });

  it("in single-user mode, gives every local session the one owner account, which has no password", async () => {
    // The Worker under test runs with SINGLE_USER=0, so the service is called with the flag on.
    const deps = depsFor({ ...testEnv, SINGLE_USER: "1" });
    const [a, b] = [await localSession(deps), await localSession(deps)];
    expect(a.user.id).toBe(b.user.id);
    expect(a.user.email).toBe(LOCAL_OWNER_EMAIL);
    expect(await json(call("/api/me", { token: a.accessToken }))).toMatchObject({ id: a.user.id });
    await expectError(post("/api/auth/login", { email: LOCAL_OWNER_EMAIL, password: PASSWORD }), 401);
  });
});
