import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { beforeAll, describe, expect, it } from "vitest";
import { createBoard, registerUser, type TestUser } from "../../test/helpers.ts";
import { callTool, ok, rawMcp, workerFetch } from "./mcp-testkit.ts";
import { TOOL_NAMES } from "./server.ts";

/**
 * An outside MCP client (Claude Code, Cursor, the Inspector) connecting by URL alone, through the
 * SDK client's own OAuth: discovery from the 401, dynamic registration, PKCE authorization with a
 * signed-in user's consent on Trellis's page, the token, then tools. This test is the browser.
 */
const REDIRECT = "http://127.0.0.1:33418/callback";

class MemoryProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = "";
  authorizationUrl?: URL;
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return {
      client_name: "Test <b>client</b>",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

const transportFor = (origin: string, authProvider: OAuthClientProvider) =>
  new StreamableHTTPClientTransport(new URL(`${origin}/mcp`), { authProvider, fetch: workerFetch });

/** What the consent page does in a browser: open it, then send the signed-in user's decision. */
async function consent(url: URL, user: TestUser, decision: "approve" | "deny") {
  const pageRes = await workerFetch(url);
  expect(pageRes.status).toBe(200);
  expect(pageRes.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
  const html = await pageRes.text();
  const handle = /data-handle="([^"]+)"/.exec(html)?.[1];
  expect(handle).toBeTruthy();
  const cookie = pageRes.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const res = await workerFetch(new URL("/oauth/authorize", url), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      origin: url.origin,
      cookie,
      authorization: `Bearer ${user.token}`,
    },
    body: JSON.stringify({ handle, decision }),
  });
  return { html, res, body: await res.json<{ redirectTo?: string; error?: { code: string } }>() };
}

/** The whole flow for `user` on `origin`: a connected client and the provider holding its tokens. */
async function connectWithOAuth(origin: string, user: TestUser) {
  const provider = new MemoryProvider();
  const first = new Client({ name: "outside", version: "0" });
  await expect(first.connect(transportFor(origin, provider))).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.info?.client_id).toBeTruthy();
  const url = provider.authorizationUrl!;
  expect(url.pathname).toBe("/oauth/authorize");
  expect(url.searchParams.get("code_challenge_method")).toBe("S256");
  expect(url.searchParams.get("resource")).toBe(`${origin}/mcp`);
  const { html, body } = await consent(url, user, "approve");
  expect(html).toContain("Test &#60;b&#62;client&#60;/b&#62;");
  expect(html).not.toContain("<b>client</b>");
  const back = new URL(body.redirectTo!);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
  expect(back.searchParams.get("state")).toBe(url.searchParams.get("state"));
  const transport = transportFor(origin, provider);
  await transport.finishAuth(back.searchParams.get("code")!);
  expect(provider.saved?.access_token).toBeTruthy();
  const client = new Client({ name: "outside", version: "0" });
  await client.connect(transportFor(origin, provider));
  return { client, provider };
}

let user: TestUser;
let board: { id: string };

beforeAll(async () => {
  user = await registerUser("Consenting");
  board = await createBoard(user.token, "Reached over OAuth");
});

describe("OAuth for outside MCP clients", () => {
  it("publishes protected-resource and authorization-server metadata", async () => {
    const prm = await (await workerFetch("http://localhost/.well-known/oauth-protected-resource/mcp")).json<{
      resource: string;
      authorization_servers: string[];
    }>();
    expect(prm).toMatchObject({ resource: "http://localhost/mcp", authorization_servers: ["http://localhost"] });
    const bare = await (await workerFetch("http://localhost/.well-known/oauth-protected-resource")).json();
    expect(bare).toMatchObject({ resource: "http://localhost/mcp" });
    const as = await (await workerFetch("http://localhost/.well-known/oauth-authorization-server")).json<
      Record<string, unknown>
    >();
    expect(as).toMatchObject({
      issuer: "http://localhost",
      authorization_endpoint: "http://localhost/oauth/authorize",
      token_endpoint: "http://localhost/oauth/token",
      registration_endpoint: "http://localhost/oauth/register",
      code_challenge_methods_supported: expect.arrayContaining(["S256"]),
    });
  });

  it("registers, authorizes with PKCE and a signed-in user's consent, and lists and calls tools", async () => {
    const { client } = await connectWithOAuth("http://localhost", user);
    const { tools } = await client.listTools();
    expect(tools.length).toBe(TOOL_NAMES.length);
    const boards = await ok<{ items: { id: string; role: string }[] }>(client, "trellis_boards_list");
    expect(boards.items).toEqual([expect.objectContaining({ id: board.id, role: "owner" })]);
    await client.close();
  });

  it("a user who denies sends the client access_denied", async () => {
    const provider = new MemoryProvider();
    await expect(
      new Client({ name: "o", version: "0" }).connect(transportFor("http://localhost", provider)),
    ).rejects.toThrow();
    const { body } = await consent(provider.authorizationUrl!, user, "deny");
    expect(new URL(body.redirectTo!).searchParams.get("error")).toBe("access_denied");
  });

  it("consent needs a signed-in user and the browser the page was given to", async () => {
    const provider = new MemoryProvider();
    await expect(
      new Client({ name: "o", version: "0" }).connect(transportFor("http://localhost", provider)),
    ).rejects.toThrow();
    const url = provider.authorizationUrl!;
    const html = await (await workerFetch(url)).text();
    const handle = /data-handle="([^"]+)"/.exec(html)![1];
    const post = (headers: Record<string, string>) =>
      workerFetch("http://localhost/oauth/authorize", {
        method: "POST",
        headers: { "content-type": "application/json", origin: "http://localhost", ...headers },
        body: JSON.stringify({ handle, decision: "approve" }),
      });
    expect((await post({})).status).toBe(401);
    // Signed in, but without the page's browser cookie: the handle is not this browser's.
    expect((await post({ authorization: `Bearer ${user.token}` })).status).toBe(400);
    expect((await post({ authorization: `Bearer ${user.token}`, origin: "https://evil.example" })).status).toBe(403);
  });

  it("a token for another resource is refused", async () => {
    // The same Worker on another origin is another resource: its tokens name that one.
    const { provider, client } = await connectWithOAuth("http://127.0.0.1", user);
    await client.close();
    const token = provider.saved!.access_token;
    const here = await rawMcp(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "0" } },
      }),
      { authorization: `Bearer ${token}` },
    );
    expect(here.status).toBe(401);
    expect(here.headers.get("www-authenticate")).toMatch(/invalid_token/);
  });

  it("Trellis's own tokens keep working beside OAuth's", async () => {
    const c = new Client({ name: "script", version: "0" });
    await c.connect(
      new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), {
        fetch: workerFetch,
        requestInit: { headers: { authorization: `Bearer ${user.token}` } },
      }),
    );
    expect((await callTool(c, "trellis_boards_get", { boardId: board.id })).isError).toBeFalsy();
    await c.close();
  });
});
