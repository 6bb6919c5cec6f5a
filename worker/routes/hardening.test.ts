import { beforeAll, describe, expect, it } from "vitest";
import type { Repo, Worktree } from "../../protocol/index.ts";
import { call, createZone, expectError, json, PASSWORD, registerUser, type TestUser } from "../../test/helpers.ts";
import { boardWithRepo, claim, GIT, runNext, testEnv } from "./runner-testkit.ts";

/** Holes an outside attacker's run found, each with the test that keeps it shut. */

let owner: TestUser;
let member: TestUser;
let runner: { id: string; credential: string };
let boardId: string;
let repo: Repo;

const queuedJobs = async () =>
  (await testEnv.DB.prepare("select count(*) as n from jobs where runner_id = ? and status = 'queued'")
    .bind(runner.id)
    .first<{ n: number }>())!.n;

async function readyCard(name: string): Promise<Worktree> {
  const res = await call(`/api/boards/${boardId}/worktrees`, {
    method: "POST",
    token: member.token,
    json: { repoId: repo.id, name, branch: `feat/${name}` },
  });
  expect(res.status).toBe(201);
  const wt = await res.json<Worktree>();
  await runNext(runner.credential, {
    status: "succeeded",
    result: { path: `/w/${name}`, git: GIT, createdBranch: true },
  });
  return wt;
}

beforeAll(async () => {
  ({ owner, member, runner, boardId, repo } = await boardWithRepo({ path: "/home/ann/code/app", branches: ["main"] }));
});

describe("unsharing a runner takes it away from the board's old cards", () => {
  it("refresh and delete of a card on an unshared runner queue nothing; delete removes only the card", async () => {
    const keep = await readyCard("kept");
    const gone = await readyCard("detached");
    const unshare = await call(`/api/runners/${runner.id}/boards/${boardId}`, { method: "DELETE", token: owner.token });
    expect(unshare.status).toBe(204);
    const before = await queuedJobs();

    const refresh = await expectError(
      call(`/api/boards/${boardId}/worktrees/${keep.id}/refresh`, { method: "POST", token: member.token }),
      403,
      "runner_not_shared",
    );
    expect(refresh.message).toMatch(/share it again/);
    const del = await call(`/api/boards/${boardId}/worktrees/${gone.id}?force=true&deleteBranch=true`, {
      method: "DELETE",
      token: member.token,
    });
    expect(del.status).toBe(204);
    expect(await queuedJobs()).toBe(before);
    // Nothing reaches the runner: its next claim finds no work.
    expect((await call("/runner/jobs/claim", { method: "POST", token: runner.credential })).status).toBe(204);
    const cards = await json<{ items: Worktree[] }>(call(`/api/boards/${boardId}/worktrees`, { token: member.token }));
    expect(cards.items.map((w) => w.id)).toEqual([keep.id]);

    // Shared again, the same card works again.
    await call(`/api/runners/${runner.id}/boards`, { method: "POST", token: owner.token, json: { boardId } });
    const again = await call(`/api/boards/${boardId}/worktrees/${keep.id}/refresh`, {
      method: "POST",
      token: member.token,
    });
    expect(again.status, await again.clone().text()).toBe(202);
    const c = await claim(runner.credential);
    expect(c.job).toMatchObject({ type: "worktree.refresh", payload: { worktreeId: keep.id } });
  });
});

describe("links", () => {
  it("refuses script and data URLs as an issue link, in any case", async () => {
    for (const issueUrl of [
      "javascript:alert(document.cookie)",
      "JavaScript:alert(1)",
      " javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "DATA:text/html;base64,PHNjcmlwdD4=",
      "vbscript:msgbox(1)",
      "VBScript:msgbox(1)",
      "file:///etc/passwd",
    ]) {
      const err = await expectError(
        call(`/api/boards/${boardId}/worktrees`, {
          method: "POST",
          token: member.token,
          json: { repoId: repo.id, name: "evil", branch: "evil", issueUrl },
        }),
        400,
      );
      expect(err.message).toMatch(/issueUrl: must be an http:\/\/ or https:\/\/ link/);
    }
    const ok = await call(`/api/boards/${boardId}/worktrees`, {
      method: "POST",
      token: member.token,
      json: { repoId: repo.id, name: "linked", branch: "linked", issueUrl: "https://github.com/o/r/issues/1" },
    });
    expect(ok.status, await ok.clone().text()).toBe(201);
    expect((await ok.json<Worktree>()).issueUrl).toBe("https://github.com/o/r/issues/1");
  });
});

describe("text that is not valid Unicode", () => {
  const lone = "a\ud800b";

  it("is refused with a 400 that names the field, never silently rewritten", async () => {
    const zone = await createZone(owner.token, boardId, { name: "Z" });
    const cases: Array<[string, string, Record<string, unknown>, string]> = [
      ["POST", `/api/boards/${boardId}/zones`, { name: "Z2", promptTemplate: lone }, "promptTemplate"],
      ["PATCH", `/api/boards/${boardId}/zones/${zone.id}`, { promptTemplate: lone }, "promptTemplate"],
      ["POST", `/api/boards/${boardId}/worktrees`, { repoId: repo.id, name: "u1", branch: lone }, "branch"],
      [
        "POST",
        `/api/boards/${boardId}/worktrees`,
        { repoId: repo.id, name: "u2", branch: "u2", baseBranch: lone },
        "baseBranch",
      ],
      ["POST", `/api/boards/${boardId}/worktrees`, { repoId: repo.id, name: "u3", branch: "u3", notes: lone }, "notes"],
      ["POST", "/api/boards", { name: lone }, "name"],
    ];
    for (const [method, path, body, field] of cases) {
      const err = await expectError(call(path, { method, token: owner.token, json: body }), 400);
      expect(err.message).toContain(`${field}: must be valid Unicode text`);
    }
    // Nothing was written: the zone's template is as it was.
    const zones = await json<{ items: Array<{ id: string; promptTemplate: string }> }>(
      call(`/api/boards/${boardId}/zones`, { token: owner.token }),
    );
    expect(zones.items.find((z) => z.id === zone.id)?.promptTemplate).toBe("");
  });

  it("keeps well-formed text exactly, astral characters included", async () => {
    const template = "Fix {{worktree.name}} 🚀 — ναι";
    const zone = await createZone(owner.token, boardId, { name: "Emoji", promptTemplate: template });
    expect(zone.promptTemplate).toBe(template);
  });
});

describe("repo URLs", () => {
  const add = (token: string, url: string) =>
    call(`/api/runners/${runner.id}/repos`, { method: "POST", token, json: { source: { kind: "url", url } } });

  it("refuses option-like hosts and paths, other schemes, and spaces", async () => {
    for (const url of [
      "ssh://-oProxyCommand=touch%20/tmp/pwned/x",
      "ssh://-oProxyCommand=x@host/repo.git",
      "git@-oProxyCommand=x:repo.git",
      "git@host:-u/repo.git",
      "ssh://host/-repo.git",
      "http://example.com/repo.git",
      "ftp://example.com/repo.git",
      "ext::sh -c touch% /tmp/pwned",
      "https://example.com/a repo.git",
    ]) {
      await expectError(add(owner.token, url), 400);
    }
  });

  it("accepts https, ssh and git@ from a member; file:// only from the runner's owner", async () => {
    await call(`/api/runners/${runner.id}/boards`, { method: "POST", token: owner.token, json: { boardId } });
    for (const [i, url] of [
      "https://github.com/o/a.git",
      "ssh://git@github.com/o/b.git",
      "git@github.com:o/c.git",
    ].entries()) {
      const res = await call(`/api/runners/${runner.id}/repos`, {
        method: "POST",
        token: member.token,
        json: { name: `remote-${i}`, source: { kind: "url", url } },
      });
      expect(res.status).toBe(201);
    }
    await expectError(add(member.token, "file:///home/ann/secret.git"), 403, "not_runner_owner");
    expect((await add(owner.token, "file:///home/ann/mine.git")).status).toBe(201);
  });
});

describe("login throttling", () => {
  const login = (email: string, password: string, ip: string) =>
    call("/api/auth/login", { method: "POST", json: { email, password }, headers: { "cf-connecting-ip": ip } });

  it("an attacker's failures slow only the attacker: the owner of the email still signs in", async () => {
    const victim = await registerUser("Victim");
    for (let i = 0; i < 8; i++) await login(victim.email, `wrong-${i}-guess`, "203.0.113.7");
    await expectError(login(victim.email, PASSWORD, "203.0.113.7"), 429, "rate_limited");
    expect((await login(victim.email, PASSWORD, "198.51.100.20")).status).toBe(200);
  });

  it("one source has a ceiling across emails, and an IPv6 host cannot spread over its /64", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 34; i++) {
      const ip = `2001:db8:1:2:${i.toString(16)}::1`;
      statuses.push((await login(`nobody-${i}@example.com`, "wrong password", ip)).status);
    }
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(30).every((s) => s === 429)).toBe(true);
    const err = await expectError(login("someone@example.com", "x", "2001:db8:1:2::99"), 429);
    expect(err.message).toMatch(/from your network/);
    // Another network is not affected.
    await expectError(login("someone@example.com", "x", "2001:db8:9:9::1"), 401, "invalid_credentials");
  }, 30_000); // thirty real password checks (scrypt) before the ceiling
});
