import { describe, expect, it } from "vitest";
import { call, registerUser } from "../test/helpers.ts";

describe("health and routing", () => {
  it("answers health without auth", async () => {
    const res = await call("/api/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it("asks for sign-in before revealing routes", async () => {
    const res = await call("/api/nope");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
  });

  it("unknown API routes are JSON 404s for a signed-in user", async () => {
    const { token } = await registerUser();
    const res = await call("/api/nope", { token });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
