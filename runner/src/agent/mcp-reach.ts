import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import type { McpServerRefused, McpServerRuntime } from "../../../protocol/index.ts";

/**
 * An HTTP MCP server is reached from this machine, so a board writer's URL could read what only
 * the runner's owner can: `localhost` services, the home or office network, a cloud metadata
 * endpoint. Servers its owner added, and any when the owner started the runner with
 * TRELLIS_MCP_BOARD_LOCAL=1, go anywhere; the rest only to public addresses.
 *
 * The name is resolved here, once, before the task starts; the client that connects (ours or an
 * SDK's) resolves it again, so a name that changes its answer in between (DNS rebinding) is not
 * stopped by this. It keeps honest mistakes and plain URLs out, not a determined DNS attacker.
 */

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
] as const)
  PRIVATE.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
] as const)
  PRIVATE.addSubnet(net, prefix, "ipv6");

export function isPrivateAddress(address: string): boolean {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4) return PRIVATE.check(v4, "ipv4");
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Where a URL's host leads, if that is this machine or a private network; null when public. */
export async function privateTarget(url: string): Promise<string | null> {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return url;
  }
  if (isIP(host)) return isPrivateAddress(host) ? host : null;
  try {
    const found = await lookup(host, { all: true, verbatim: true });
    const hit = found.find((a) => isPrivateAddress(a.address));
    return hit ? `${host} (${hit.address})` : null;
  } catch {
    // A name that does not resolve here reaches nothing: the client says so when it tries.
    return null;
  }
}

/** The task's servers, less the HTTP ones a board writer pointed at this machine's own networks. */
export async function gateMcpReach(
  servers: McpServerRuntime[],
  o: { boardLocal: boolean },
): Promise<{ servers: McpServerRuntime[]; refused: McpServerRefused[] }> {
  const kept: McpServerRuntime[] = [];
  const refused: McpServerRefused[] = [];
  for (const s of servers) {
    const target = s.transport === "http" && !s.byRunnerOwner && !o.boardLocal ? await privateTarget(s.url) : null;
    if (!target) {
      kept.push(s);
      continue;
    }
    refused.push({
      id: s.id,
      name: s.name,
      reason:
        `it points at ${target}, on the runner's own machine or network, and someone other than the runner's owner added it. ` +
        "The owner can add it themselves, or start the runner with TRELLIS_MCP_BOARD_LOCAL=1 to let the boards it is shared with reach such servers",
    });
  }
  return { servers: kept, refused };
}
