/**
 * MCP servers on a board, end to end: real Chromium (Debian's), a real Worker (`wrangler dev` with
 * local D1 and Durable Objects), two people in two browser contexts.
 *
 * Ada, the owner, adds a stdio server with a secret env variable in the board's MCP panel; a
 * second one with the same name is refused by the edge, inline. Vic, a viewer, sees the first
 * appear live with the secret masked to its last four and no way to add or remove. Ada removes
 * it (after a confirm) and it goes for Vic too.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { api, registerUser, startTrellis, type Trellis } from "../test/server.ts";
import { launchChromium, logIn } from "./people.ts";

let trellis: Trellis;
let browser: Browser;
let ada: Page;
let vic: Page;
const SECRET = "ghp_notarealtoken_wxyz";
const SHOTS = process.env.TRELLIS_MCP_SHOTS;
const shot = async (p: Page, name: string) => {
  if (SHOTS) await p.screenshot({ path: `${SHOTS}/mcp-${name}.png` });
};

before(async () => {
  [trellis, browser] = await Promise.all([startTrellis({ singleUser: false }), launchChromium()]);
  const [a, v] = await Promise.all([registerUser(trellis.url, "Ada"), registerUser(trellis.url, "Vic")]);
  const board = await api(trellis.url, "/api/boards", { token: a.token, json: { name: "Tools" } });
  await api(trellis.url, `/api/boards/${board.id}/members`, {
    token: a.token,
    json: { email: v.email, role: "viewer" },
  });
  [ada, vic] = await Promise.all([logIn(browser, trellis.url, a.email), logIn(browser, trellis.url, v.email)]);
  await Promise.all([ada, vic].map((p) => p.goto(`${trellis.url}/b/${board.id}`)));
  await Promise.all([ada, vic].map((p) => p.locator('[data-testid="connection"][data-status="connected"]').waitFor()));
});

after(async () => {
  await browser?.close();
  await trellis?.stop();
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

  await item(ada, "github").getByTestId("mcp-remove").click();
  await ada.getByTestId("confirm-ok").click();
  await vic.getByTestId("no-mcp-servers").waitFor();
  await ada.getByTestId("no-mcp-servers").waitFor();
});
