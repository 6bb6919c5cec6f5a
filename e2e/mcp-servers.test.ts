/**
 * MCP servers on a board, end to end: real Chromium (Debian's), a real Worker (`wrangler dev` with
 * local D1 and Durable Objects), a real runner whose Anthropic provider talks to the scripted model
 * server (the one stand-in), a real git worktree, two people in two browser contexts.
 *
 * Ada, the owner, adds a stdio server with a secret env variable in the board's MCP panel; a
 * second one with the same name is refused by the edge, inline. Vic, a viewer, sees the first
 * appear live with the secret masked to its last four and no way to add or remove. Ada edits it
 * (a new argument, a new secret: the same server), live for Vic; then removes it (after a
 * confirm) and it goes for Vic too.
 *
 * Then a session: Ada picks a server when starting it and unpicks it from the panel (the edge
 * holds each pick), a prompt's task line says whose key it used, and Ada deletes the session from
 * its panel: it goes from Vic's card live.
 *
 * Last, Ada's own keys: she saves an Anthropic key, an OpenAI-compatible server with its key and a
 * variable on the Keys page; after a reload only their last four show, and no page or response
 * ever holds a value; she deletes one; her next prompt runs on her own key, and says so.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Browser, Page, Response as PageResponse } from "playwright-core";
import type { Board, Session, Worktree } from "../protocol/index.ts";
import { readyWorktree, until, type World, world } from "../runner/test/session-kit.ts";
import { api, registerUser } from "../test/server.ts";
import { launchChromium, logIn, PASSWORD } from "./people.ts";

let w: World;
let browser: Browser;
let wt: Worktree;
let ada: Page;
let vic: Page;
let vicEmail: string;
const SECRET = "ghp_notarealtoken_wxyz";
const NEW_SECRET = "ghp_anothertoken_9876";
const SHOTS = process.env.TRELLIS_MCP_SHOTS;
const shot = async (p: Page, name: string) => {
  if (SHOTS) await p.screenshot({ path: `${SHOTS}/mcp-${name}.png` });
};

before(async () => {
  [w, browser] = await Promise.all([world("Ada"), launchChromium()]);
  const owner = w.s.user as unknown as { email: string; token: string };
  const v = await registerUser(w.edge.url, "Vic");
  vicEmail = v.email;
  await api(w.edge.url, `/api/boards/${w.s.boardId}/members`, {
    token: owner.token,
    json: { email: v.email, role: "viewer" },
  });
  wt = await readyWorktree(w, "tools");
  [ada, vic] = await Promise.all([logIn(browser, w.edge.url, owner.email), logIn(browser, w.edge.url, v.email)]);
  await Promise.all([ada, vic].map((p) => p.goto(`${w.edge.url}/b/${w.s.boardId}`)));
  await Promise.all([ada, vic].map((p) => p.locator('[data-testid="connection"][data-status="connected"]').waitFor()));
});

after(async () => {
  await browser?.close();
  await w?.stop();
});

const item = (p: Page, name: string) => p.locator(`[data-testid="mcp-server"][data-name="${name}"]`);

test("a stdio server added in the panel is listed for a viewer, its secret masked", async () => {
  await Promise.all([ada, vic].map((p) => p.getByTestId("mcp-button").click()));
  await vic.getByTestId("no-mcp-servers").waitFor();
  assert.equal(await vic.getByTestId("mcp-add").count(), 0, "a viewer cannot add");

  await ada.getByTestId("mcp-add").click();
  await ada.getByTestId("mcp-name").fill("github");
  await ada.getByTestId("mcp-command").fill("npx");
  await ada.getByTestId("mcp-args").fill("-y\n@modelcontextprotocol/server-github");
  await ada.getByTestId("mcp-env-add").click();
  await ada.getByTestId("mcp-env-name").fill("GITHUB_TOKEN");
  await ada.getByTestId("mcp-env-value").fill(SECRET);
  await shot(ada, "form");
  await ada.getByTestId("mcp-save").click();
  await item(ada, "github").waitFor();

  // Live for the viewer, no reload: the room's mcp_server event.
  const seen = item(vic, "github");
  await seen.waitFor();
  assert.equal(await seen.getByTestId("mcp-target").textContent(), "npx -y @modelcontextprotocol/server-github");
  assert.equal(await seen.getByTestId("mcp-secret").textContent(), "GITHUB_TOKEN ••••wxyz");
  assert.match((await seen.textContent()) ?? "", /added by Ada/);
  assert.equal(await seen.getByTestId("mcp-remove").count(), 0, "a viewer cannot remove");
  assert.equal(await seen.getByTestId("mcp-edit").count(), 0, "a viewer cannot edit");
  await shot(vic, "viewer");
  for (const p of [ada, vic]) assert.ok(!(await p.content()).includes(SECRET), "the secret never reaches a page");

  // The same name again: the edge's 409, shown in the form, nothing added.
  await ada.getByTestId("mcp-add").click();
  await ada.getByTestId("mcp-transport-http").check();
  await ada.getByTestId("mcp-name").fill("github");
  await ada.getByTestId("mcp-url").fill("https://mcp.example.com/mcp");
  await ada.getByTestId("mcp-save").click();
  await ada.getByTestId("mcp-error").filter({ hasText: "already has an MCP server" }).waitFor();
  await shot(ada, "refused");
  assert.equal(await ada.getByTestId("mcp-server").count(), 1);

  await ada.getByRole("button", { name: "Cancel" }).click();

  // Edited in place: the same server (its id, so sessions that picked it keep it), a new argument
  // and a new secret, live for Vic, the secret still never on a page.
  const id = await item(ada, "github").getAttribute("data-server-id");
  assert.ok(id);
  await item(ada, "github").getByTestId("mcp-edit").click();
  const form = ada.getByTestId("mcp-edit-form");
  assert.equal(await form.getByTestId("mcp-command").inputValue(), "npx");
  assert.equal(await form.getByTestId("mcp-env-value").getAttribute("placeholder"), "••••wxyz (kept)");
  await form.getByTestId("mcp-args").fill("-y\n@modelcontextprotocol/server-github\n--read-only");
  await form.getByTestId("mcp-env-value").fill(NEW_SECRET);
  await shot(ada, "edit");
  await form.getByTestId("mcp-save").click();
  await form.waitFor({ state: "detached" });
  const edited = item(vic, "github");
  await edited.getByTestId("mcp-target").filter({ hasText: "--read-only" }).waitFor();
  assert.equal(await edited.getByTestId("mcp-secret").textContent(), "GITHUB_TOKEN ••••9876");
  assert.equal(await edited.getAttribute("data-server-id"), id);
  assert.equal(await ada.getByTestId("mcp-server").count(), 1);
  for (const p of [ada, vic]) {
    const html = await p.content();
    assert.ok(!html.includes(SECRET) && !html.includes(NEW_SECRET), "no secret reaches a page");
  }

  await item(ada, "github").getByTestId("mcp-remove").click();
  await ada.getByTestId("confirm-ok").click();
  await vic.getByTestId("no-mcp-servers").waitFor();
  await ada.getByTestId("no-mcp-servers").waitFor();
});

const card = (p: Page) => p.locator(`[data-testid="worktree"][data-worktree-id="${wt.id}"]`);
const sessionOf = async (id: string) =>
  (await api(w.edge.url, `/api/boards/${w.s.boardId}/sessions/${id}`, { token: w.s.user.token })).session as Session;

test("a session picks servers as it starts and from its panel, says whose key it used, and is deleted", async () => {
  await ada.getByTestId("mcp-add").click();
  await ada.getByTestId("mcp-name").fill("docs");
  await ada.getByTestId("mcp-command").fill("docs-mcp");
  await ada.getByTestId("mcp-save").click();
  await item(ada, "docs").waitFor();
  await ada.getByTestId("mcp-button").click();

  await card(ada).hover();
  await card(ada).getByTestId("session-new").click();
  const dialog = ada.getByTestId("start-session");
  await dialog.locator('[data-testid="mcp-pick-item"][data-name="docs"]').check();
  await ada.getByTestId("session-title").fill("With docs");
  await shot(ada, "start-dialog");
  await ada.getByTestId("session-start").click();
  await dialog.waitFor({ state: "detached" });
  const panel = ada.getByTestId("session-panel");
  await ada.locator('[data-testid="session-panel"][data-session-id]').waitFor();
  const sessionId = (await panel.getAttribute("data-session-id"))!;
  const docsId = (await sessionOf(sessionId)).mcpServerIds[0];
  assert.ok(docsId, "the pick went out with the session");
  assert.match((await ada.getByTestId("session-mcp").textContent()) ?? "", /MCP · 1/);

  // Unpicked from the panel (a stdio command that does not exist would only say so in the transcript).
  await ada.getByTestId("session-mcp").click();
  await ada.getByTestId("session-mcp-menu").getByText("Applies from the next prompt", { exact: false }).waitFor();
  await shot(ada, "session-mcp");
  await ada.getByTestId("session-mcp-menu").locator('[data-testid="mcp-pick-item"]').uncheck();
  await until("the pick is cleared", async () => (await sessionOf(sessionId)).mcpServerIds.length === 0);
  await ada.getByTestId("session-mcp").click();

  w.server.script("anthropic", [{ text: "Nothing to do." }]);
  await ada.getByTestId("composer-input").fill("Say hello.");
  await ada.getByTestId("composer-send").click();
  const key = panel.getByTestId("task-key");
  await key.waitFor({ timeout: 20_000 });
  assert.equal(await key.textContent(), "runner's key");
  assert.equal(await key.getAttribute("href"), "/keys");

  const onVic = card(vic).locator(`[data-testid="session-row"][data-session-id="${sessionId}"]`);
  await onVic.waitFor();
  await panel.getByTestId("session-delete").click();
  await ada.getByTestId("confirm-dialog").getByText("With docs", { exact: false }).waitFor();
  await ada.getByTestId("confirm-ok").click();
  await panel.waitFor({ state: "detached" });
  await onVic.waitFor({ state: "detached" });
  await assert.rejects(sessionOf(sessionId), /404/);
});

const ADA_KEY = "sk-ant-adas-own-e2e-key-1234";
const COMPAT_KEY = "adas-compat-e2e-key-5678";
const VAR_VALUE = "adas-deploy-e2e-value-9012";

test("Keys & environment: values show only their last four, reach no page, and a prompt runs on them", async () => {
  const values = [ADA_KEY, COMPAT_KEY, VAR_VALUE];
  const bodies: Promise<string>[] = [];
  const onResponse = (res: PageResponse) => bodies.push(res.text().catch(() => ""));
  ada.on("response", onResponse);
  await ada.goto(`${w.edge.url}/keys`);
  const row = (provider: string) => ada.getByTestId(`key-${provider}`);

  await row("anthropic").getByRole("button", { name: "Add" }).click();
  await ada.getByTestId("key-form-anthropic").getByTestId("key-value").fill(ADA_KEY);
  await ada.getByTestId("key-form-anthropic").getByTestId("save-key").click();
  await row("anthropic").getByTestId("key-last4").waitFor();
  await row("openai-compatible").getByRole("button", { name: "Add" }).click();
  const compat = ada.getByTestId("key-form-openai-compatible");
  await compat.getByTestId("key-base-url").fill("http://127.0.0.1:11434/v1");
  await compat.getByTestId("key-value").fill(COMPAT_KEY);
  await compat.getByTestId("save-key").click();
  await row("openai-compatible").getByTestId("key-last4").waitFor();
  await ada.getByTestId("env-name").fill("DEPLOY_TOKEN");
  await ada.getByTestId("env-value").fill(VAR_VALUE);
  await ada.getByTestId("save-env").click();
  await ada.getByTestId("env-row").waitFor();

  await ada.reload();
  await row("anthropic").getByTestId("key-last4").waitFor();
  assert.equal(await row("anthropic").getByTestId("key-last4").textContent(), "•••• 1234");
  assert.equal(await row("openai-compatible").getByTestId("key-last4").textContent(), "•••• 5678");
  assert.match((await row("openai-compatible").textContent()) ?? "", /http:\/\/127\.0\.0\.1:11434\/v1/);
  assert.match((await ada.getByTestId("env-row").textContent()) ?? "", /DEPLOY_TOKEN.*•••• 9012/);
  const html = await ada.content();
  for (const v of values) assert.ok(!html.includes(v), "a saved value is never on the page");

  await row("openai-compatible").getByRole("button", { name: "Delete" }).click();
  await ada.getByTestId("confirm-ok").click();
  await row("openai-compatible").getByText("not set").waitFor();
  await ada.reload();
  await row("anthropic").getByTestId("key-last4").waitFor();
  assert.equal(await row("openai-compatible").getByTestId("key-last4").count(), 0, "deleted on the server too");
  ada.off("response", onResponse);
  const texts = await Promise.all(bodies);
  assert.ok(
    texts.some((t) => t.includes('"last4":"1234"')),
    "the responses were read",
  );
  for (const t of texts) for (const v of values) assert.ok(!t.includes(v), "no response holds a saved value");

  // A prompt of Ada's runs on her own key, and its task line says so.
  await ada.goto(`${w.edge.url}/b/${w.s.boardId}`);
  await ada.locator('[data-testid="connection"][data-status="connected"]').waitFor();
  await card(ada).hover();
  await card(ada).getByTestId("session-new").click();
  await ada.getByTestId("session-start").click();
  await ada.getByTestId("start-session").waitFor({ state: "detached" });
  const panel = ada.locator('[data-testid="session-panel"][data-session-id]');
  await panel.waitFor();
  w.server.script("anthropic", [{ text: "On your key." }]);
  const from = w.server.requests.length;
  await ada.getByTestId("composer-input").fill("Say hello.");
  await ada.getByTestId("composer-send").click();
  const key = panel.getByTestId("task-key");
  await key.waitFor({ timeout: 20_000 });
  assert.equal(await key.textContent(), "your key");
  await panel.locator('[data-testid="task-line"][data-status="completed"]').waitFor({ timeout: 20_000 });
  assert.deepEqual(
    w.server.requests
      .slice(from)
      .map((r) => r.headers["x-api-key"] ?? r.headers.authorization?.replace(/^Bearer /, "")),
    [ADA_KEY],
    "the model call carried Ada's key",
  );
});

test("an outside MCP client: Vic signs in on the consent page, allows it, and its token works on /mcp; a second request he denies", async () => {
  const base = w.edge.url;
  // Never reached: the browser's arrival there is caught, as the client's own listener would.
  const REDIRECT = "http://127.0.0.1:9/callback";
  const reg = await fetch(`${base}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "E2E client",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }),
  });
  assert.equal(reg.status, 201);
  const { client_id } = (await reg.json()) as { client_id: string };

  // A browser of his own, not signed in to Trellis: the page asks him to.
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    throw new Error(`page error: ${e.message}`);
  });
  const landed: URL[] = [];
  await page.route(`${REDIRECT}**`, (r) => {
    landed.push(new URL(r.request().url()));
    return r.fulfill({ status: 200, contentType: "text/plain", body: "Back in the client." });
  });
  const authorize = async () => {
    const verifier = randomBytes(32).toString("base64url");
    const state = randomBytes(8).toString("hex");
    const url = new URL(`${base}/oauth/authorize`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id,
      redirect_uri: REDIRECT,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
      scope: "trellis",
      state,
      resource: `${base}/mcp`,
    }))
      url.searchParams.set(k, v);
    await page.goto(url.href);
    await page.getByRole("heading", { name: "Allow E2E client to use Trellis as you?" }).waitFor();
    return { verifier, state };
  };

  const first = await authorize();
  await page.locator("#signin").waitFor();
  await page.getByLabel("Email").fill(vicEmail);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#who").filter({ hasText: vicEmail }).waitFor();
  await shot(page, "consent");
  await page.getByRole("button", { name: "Allow" }).click();
  await page.getByText("Back in the client.").waitFor();
  const back = landed[0]!;
  assert.equal(back.searchParams.get("state"), first.state);
  const code = back.searchParams.get("code");
  assert.ok(code, `the redirect carries a code: ${back.href}`);

  const tokenRes = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      client_id,
      code_verifier: first.verifier,
      resource: `${base}/mcp`,
    }),
  });
  assert.equal(tokenRes.status, 200);
  const { access_token } = (await tokenRes.json()) as { access_token: string };
  const mcp = new Client({ name: "e2e-client", version: "0.0.0" });
  await mcp.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${access_token}` } },
    }),
  );
  await mcp.listTools();
  const got = (await mcp.callTool({
    name: "trellis_boards_get",
    arguments: { boardId: w.s.boardId },
  })) as CallToolResult;
  assert.ok(!got.isError, JSON.stringify(got.content));
  assert.equal((got.structuredContent as Board).role, "viewer", "the client acts as Vic, a viewer");
  await mcp.close();

  // Signed in now (the page's cookie): the next request goes straight to the choice; he denies it.
  const second = await authorize();
  await page.getByRole("button", { name: "Deny" }).click();
  await page.getByText("Back in the client.").waitFor();
  await until("the denial is back", async () => landed.length === 2);
  const denied = landed[1]!;
  assert.equal(denied.searchParams.get("error"), "access_denied");
  assert.equal(denied.searchParams.get("state"), second.state);
  assert.equal(denied.searchParams.get("code"), null);
  await context.close();
});
