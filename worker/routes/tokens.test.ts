import { base64url, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { ApiToken, CreatedApiToken } from "../../protocol/index.ts";
import { call, expectError, insertSession, json, registerUsers, type TestUser, testEnv } from "../../test/helpers.ts";
import { sha256 } from "../lib/crypto.ts";

/** The JWT_SECRET vitest.worker.config.ts gives the Worker. */
const TEST_JWT_SECRET = "dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtMTIzNDU2Nzg=";
const testKey = base64url.decode(TEST_JWT_SECRET.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));

/** The sign-in (refresh family) a real access token names. */
const familyOf = (token: string) => JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).fam;

/** An access token shaped like ours, naming Alice's sign-in; each test changes one thing about it. */
function accessToken(
  sub: string,
  opts: { iss?: string; aud?: string; exp?: number | string; alg?: string; fam?: string | null } = {},
) {
  const fam = opts.fam === undefined ? familyOf(alice.token) : opts.fam;
  return new SignJWT(fam === null ? {} : { fam })
    .setProtectedHeader({ alg: opts.alg ?? "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuer(opts.iss ?? "trellis")
    .setAudience(opts.aud ?? "trellis-api")
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? "15m");
}

let alice: TestUser;
let bob: TestUser;
beforeAll(async () => {
  [alice, bob] = await registerUsers("Alice", "Bob");
});

const me = (token: string) => call("/api/me", { token });

describe("access tokens (JWT)", () => {
  it("accepts a token signed like ours (so the refusals below are about the one thing changed)", async () => {
    const token = await accessToken(alice.id).sign(testKey);
    expect(await json(me(token))).toMatchObject({ id: alice.id });
  });

  it("refuses a token signed with another key", async () => {
    const forged = await accessToken(alice.id).sign(crypto.getRandomValues(new Uint8Array(32)));
    await expectError(me(forged), 401, "invalid_token");
  });

  it("refuses a token with a tampered payload", async () => {
    const [h, , s] = alice.token.split(".");
    const payload = base64url.encode(JSON.stringify({ sub: bob.id, iss: "trellis", aud: "trellis-api", exp: 2e9 }));
    await expectError(me(`${h}.${payload}.${s}`), 401, "invalid_token");
  });

  it("refuses an expired token", async () => {
    const expired = await accessToken(alice.id, { exp: Math.floor(Date.now() / 1000) - 60 }).sign(testKey);
    await expectError(me(expired), 401, "invalid_token");
  });

  it("refuses a token without an expiry", async () => {
    const forever = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(alice.id)
      .setIssuer("trellis")
      .setAudience("trellis-api")
      .sign(testKey);
    await expectError(me(forever), 401, "invalid_token");
  });

  it("refuses alg: none", async () => {
    const unsigned = new UnsecuredJWT({})
      .setSubject(alice.id)
      .setIssuer("trellis")
      .setAudience("trellis-api")
      .setExpirationTime("15m")
      .encode();
    await expectError(me(unsigned), 401, "invalid_token");
  });

  it("refuses HS512 even with the right key (the algorithm is pinned)", async () => {
    const hs512 = await accessToken(alice.id, { alg: "HS512" }).sign(
      new Uint8Array([...testKey, ...testKey]), // HS512 wants ≥ 64 bytes; the key itself is ours
    );
    await expectError(me(hs512), 401, "invalid_token");
    const hs512same = await accessToken(alice.id, { alg: "HS512" }).sign(testKey);
    await expectError(me(hs512same), 401, "invalid_token");
  });

  it("refuses RS256, including one whose public key is offered in the header", async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const rs = await accessToken(alice.id, { alg: "RS256" }).sign(privateKey);
    await expectError(me(rs), 401, "invalid_token");
    const embedded = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256", jwk: await exportJWK(publicKey) })
      .setSubject(alice.id)
      .setIssuer("trellis")
      .setAudience("trellis-api")
      .setExpirationTime("15m")
      .sign(privateKey);
    await expectError(me(embedded), 401, "invalid_token");
  });

  it("refuses the wrong audience and the wrong issuer", async () => {
    await expectError(me(await accessToken(alice.id, { aud: "trellis-runner" }).sign(testKey)), 401, "invalid_token");
    await expectError(me(await accessToken(alice.id, { iss: "someone-else" }).sign(testKey)), 401, "invalid_token");
  });

  it("refuses a token with no subject", async () => {
    const nobody = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("trellis")
      .setAudience("trellis-api")
      .setExpirationTime("15m")
      .sign(testKey);
    await expectError(me(nobody), 401, "invalid_token");
  });

  it("refuses a malformed Authorization header", async () => {
    await expectError(call("/api/me", { headers: { authorization: `Basic ${alice.token}` } }), 401, "unauthorized");
    await expectError(call("/api/me", { headers: { authorization: "Bearer" } }), 401, "unauthorized");
  });
});

describe("personal API tokens", () => {
  const create = (token: string, name: string) =>
    json<CreatedApiToken>(call("/api/tokens", { method: "POST", token, json: { name } }));
  const list = async (token: string) => (await json<{ items: ApiToken[] }>(call("/api/tokens", { token }))).items;

  it("is shown once, listed without the secret, and works as a bearer token", async () => {
    const created = await create(alice.token, "laptop CLI");
    expect(created.token).toMatch(/^trl_pat_/);
    expect(created).toMatchObject({ name: "laptop CLI", lastUsedAt: null });

    const listed = (await list(alice.token)).find((t) => t.id === created.id);
    expect(listed).toEqual({ id: created.id, name: "laptop CLI", createdAt: created.createdAt, lastUsedAt: null });
    expect(JSON.stringify(await list(alice.token))).not.toContain(created.token);

    expect(await json(me(created.token))).toMatchObject({ id: alice.id });
    const used = (await list(alice.token)).find((t) => t.id === created.id);
    expect(used?.lastUsedAt).toBeGreaterThanOrEqual(created.createdAt);
  });

  it("lists only my own tokens", async () => {
    const mine = await create(alice.token, "mine");
    expect((await list(bob.token)).map((t) => t.id)).not.toContain(mine.id);
  });

  it("stops working once revoked, and leaves the list", async () => {
    const created = await create(alice.token, "to revoke");
    expect((await me(created.token)).status).toBe(200);
    const del = await call(`/api/tokens/${created.id}`, { method: "DELETE", token: alice.token });
    expect(del.status).toBe(204);
    await expectError(me(created.token), 401, "invalid_token");
    expect((await list(alice.token)).map((t) => t.id)).not.toContain(created.id);
    await expectError(call(`/api/tokens/${created.id}`, { method: "DELETE", token: alice.token }), 404, "not_found");
  });

  it("cannot be revoked by another user (404, and it keeps working)", async () => {
    const created = await create(alice.token, "not bobs");
    await expectError(call(`/api/tokens/${created.id}`, { method: "DELETE", token: bob.token }), 404, "not_found");
    expect((await me(created.token)).status).toBe(200);
  });

  it("a personal token can manage tokens too, and a made-up one is refused", async () => {
    const created = await create(alice.token, "cli");
    expect((await list(created.token)).length).toBeGreaterThan(0);
    await expectError(me("trl_pat_not-a-real-token"), 401, "invalid_token");
  });

  it("needs a name", async () => {
    const err = await expectError(
      call("/api/tokens", { method: "POST", token: alice.token, json: { name: "  " } }),
      400,
      "bad_request",
    );
    expect(err.message).toMatch(/name: must not be empty/);
  });

  it("an agent's session token can use the API but cannot manage API tokens", async () => {
    const token = `trl_ses_${crypto.randomUUID()}`;
    const { sessionId } = await insertSession(alice.id);
    await testEnv.DB.prepare(
      "INSERT INTO api_tokens (id, user_id, name, scope, session_id, token_hash, expires_at) VALUES (?, ?, 'agent', 'session', ?, ?, ?)",
    )
      .bind(crypto.randomUUID(), alice.id, sessionId, await sha256(token), Date.now() + 60_000)
      .run();
    expect(await json(me(token))).toMatchObject({ id: alice.id });
    await expectError(call("/api/tokens", { token }), 403, "wrong_credential");
    await expectError(call("/api/tokens", { method: "POST", token, json: { name: "forever" } }), 403);
    const mine = await create(alice.token, "kept");
    await expectError(call(`/api/tokens/${mine.id}`, { method: "DELETE", token }), 403);
  });

  it("a session token whose session is gone is no credential", async () => {
    const token = `trl_ses_${crypto.randomUUID()}`;
    await testEnv.DB.prepare(
      "INSERT INTO api_tokens (id, user_id, name, scope, session_id, token_hash, expires_at) VALUES (?, ?, 'agent', 'session', ?, ?, ?)",
    )
      .bind(crypto.randomUUID(), alice.id, crypto.randomUUID(), await sha256(token), Date.now() + 60_000)
      .run();
    await expectError(me(token), 401, "invalid_token");
  });

  it("an expired session token is refused", async () => {
    const token = `trl_ses_${crypto.randomUUID()}`;
    await testEnv.DB.prepare(
      "INSERT INTO api_tokens (id, user_id, name, scope, token_hash, expires_at) VALUES (?, ?, 'old', 'session', ?, ?)",
    )
      .bind(crypto.randomUUID(), alice.id, await sha256(token), Date.now() - 1)
      .run();
    await expectError(me(token), 401, "invalid_token");
  });

  it("a runner credential on /api is refused as the wrong kind of credential", async () => {
    const err = await expectError(me("trl_run_abcdefghijklmnop"), 401, "wrong_credential");
    expect(err.message).toMatch(/runner/i);
  });
});
