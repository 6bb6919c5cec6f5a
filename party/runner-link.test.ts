import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { LINK_CLOSE, LINK_STALE_MS } from "../protocol/index.ts";
import { registerUser, type TestUser } from "../test/helpers.ts";
import { openLink, registerRunner, runnerRow, testEnv } from "../worker/routes/runner-testkit.ts";
import { isStale, type RunnerLink } from "./runner-link.ts";
import { getRunnerLink } from "./stubs.ts";

let owner: TestUser;
beforeAll(async () => {
  owner = await registerUser("Owner");
});

describe("RunnerLink", () => {
  it("counts a socket stale only after LINK_STALE_MS without a ping", () => {
    expect(isStale(0, 1_000, 1_000 + LINK_STALE_MS)).toBe(false);
    expect(isStale(0, 1_000, 1_001 + LINK_STALE_MS)).toBe(true);
    expect(isStale(30_000, 1_000, 30_000 + LINK_STALE_MS)).toBe(false);
  });

  it("answers pings without waking the object", async () => {
    const r = await registerRunner(owner.token);
    const link = await openLink(r.credential);
    const pong = new Promise<unknown>((resolve) =>
      link.ws.addEventListener("message", (e) => {
        if (e.data === "pong") resolve(e.data);
      }),
    );
    link.ws.send("ping");
    expect(await pong).toBe("pong");
    link.ws.close();
  });

  it("closes a socket gone silent and shows the runner offline", async () => {
    const r = await registerRunner(owner.token);
    const link = await openLink(r.credential);
    await link.next((m) => m.type === "wake");
    expect((await runnerRow(owner.token, r.id))?.status).toBe("online");

    // A killed runner sends no close frame; its socket just goes quiet. Age this one past the limit.
    const stub = getRunnerLink(testEnv, r.id);
    await runInDurableObject(stub, (instance: RunnerLink) => {
      for (const c of instance.getConnections()) c.setState({ connectedAt: Date.now() - LINK_STALE_MS - 1 });
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await link.closed).code).toBe(LINK_CLOSE.stale);
    expect((await runnerRow(owner.token, r.id))?.status).toBe("offline");
  });

  it("hangs up, on its next sweep, a link whose runner was removed without a revoke", async () => {
    const someone = await registerUser("Leaving");
    const r = await registerRunner(someone.token);
    const link = await openLink(r.credential);
    await link.next((m) => m.type === "wake");
    // The owner's account is deleted underneath the API: the runner row goes with it, no RPC is sent.
    await testEnv.DB.prepare("delete from users where id = ?").bind(someone.id).run();
    await runDurableObjectAlarm(getRunnerLink(testEnv, r.id));
    expect((await link.closed).code).toBe(LINK_CLOSE.revoked);
  });
});
