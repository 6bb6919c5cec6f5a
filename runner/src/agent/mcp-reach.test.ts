import { describe, expect, it } from "vitest";
import type { McpServerRuntime } from "../../../protocol/index.ts";
import { gateMcpReach, isPrivateAddress, privateTarget } from "./mcp-reach.ts";

const http = (name: string, url: string, byRunnerOwner = false): McpServerRuntime => ({
  id: name,
  name,
  transport: "http",
  url,
  headers: {},
  byRunnerOwner,
});

describe("which MCP URLs lead into the runner's own machine and networks", () => {
  it("knows loopback, private, link-local, shared and unique-local addresses, and v4 inside v6", () => {
    for (const a of [
      "127.0.0.1",
      "10.1.2.3",
      "172.20.0.1",
      "192.168.1.10",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
    ])
      expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ["1.1.1.1", "172.32.0.1", "8.8.8.8", "2606:4700::1111", "::ffff:1.1.1.1"])
      expect(isPrivateAddress(a), a).toBe(false);
  });

  it("resolves names, and reads bracketed IPv6 and literal hosts", async () => {
    expect(await privateTarget("http://localhost:8080/mcp")).toMatch(/^localhost \((127\.0\.0\.1|::1)\)$/);
    expect(await privateTarget("http://[::1]:3000/mcp")).toBe("::1");
    expect(await privateTarget("http://169.254.169.254/latest/meta-data")).toBe("169.254.169.254");
    expect(await privateTarget("https://8.8.8.8/mcp")).toBeNull();
  });

  it("refuses a writer's server that points inward, keeps the owner's, and the owner's consent lets all through", async () => {
    const servers = [http("inward", "http://127.0.0.1:9/mcp"), http("mine", "http://127.0.0.1:9/mcp", true)];
    const gated = await gateMcpReach(servers, { boardLocal: false });
    expect(gated.servers.map((s) => s.name)).toEqual(["mine"]);
    expect(gated.refused).toEqual([
      {
        id: "inward",
        name: "inward",
        reason: expect.stringMatching(
          /^it points at 127\.0\.0\.1, on the runner's own machine or network.*TRELLIS_MCP_BOARD_LOCAL=1/,
        ),
      },
    ]);
    const consented = await gateMcpReach(servers, { boardLocal: true });
    expect(consented.servers.map((s) => s.name)).toEqual(["inward", "mine"]);
    expect(consented.refused).toEqual([]);
  });
});
