import { beforeAll, describe, expect, it } from "vitest";
import type { Board, JobClaim, Session, SessionDetail, Task, TaskContext, Zone } from "../../protocol/index.ts";
import { addMember, call, joinRoom, json, registerUsers, type TestUser } from "../../test/helpers.ts";
import { claim, post, testEnv } from "../routes/runner-testkit.ts";
import { boardWithWorktree, callTool, MCP_URL, mcpClient, ok, rawMcp, workerFetch } from "./mcp-testkit.ts";
import { TOOL_NAMES } from "./server.ts";

const ISSUE_TOOLS = [
  "trellis_sessions_list",
  "trellis_sessions_get",
  "trellis_sessions_get_current",
  "trellis_tasks_list",
  "trellis_tasks_get",
  "trellis_messages_list",
  "trellis_worktrees_list",
  "trellis_worktrees_get",
  "trellis_boards_list",
  "trellis_boards_get",
  "trellis_zones_list",
  "trellis_runners_list",
  "trellis_sessions_create",
  "trellis_sessions_prompt",
  "trellis_sessions_spawn",
  "trellis_sessions_fork",
  "trellis_sessions_stop",
  "trellis_worktrees_create",
  "trellis_worktrees_move",
  "trellis_boards_create",
  "trellis_zones_create",
];

let stage: Awaited<ReturnType<typeof boardWithWorktree>>;
let viewer: TestUser;
let stranger: TestUser;

beforeAll(async () => {
  stage = await boardWithWorktree();
  [viewer, stranger] = await registerUsers("Viewer", "Stranger");
  await addMember(stage.owner.token, stage.boardId, viewer, "viewer");
});

describe("the MCP endpoint", () => {
  it("initializes with the official client and lists every tool with its schemas and hints", async () => {
    const client = await mcpClient(stage.member.token);
    expect(client.getServerVersion()).toMatchObject({ name: "trellis" });
    expect(client.getInstructions()).toMatch(/trellis_sessions_get_current/);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...ISSUE_TOOLS].sort());
    expect(TOOL_NAMES).toHaveLength(ISSUE_TOOLS.length);
    for (const t of tools) {
      expect(t.description!.length, t.name).toBeGreaterThan(40);
      expect(t.inputSchema.type, t.name).toBe("object");
      expect(t.outputSchema?.type, t.name).toBe("object");
      expect(typeof t.annotations?.readOnlyHint, t.name).toBe("boolean");
      for (const key of Object.keys(t.inputSchema.properties ?? {})) expect(key, t.name).toMatch(/^[a-z][a-zA-Z]*$/);
    }
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get("trellis_sessions_list")!.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.get("trellis_sessions_stop")!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.get("trellis_sessions_list")!.inputSchema.required).toEqual(["boardId"]);
    expect(Object.keys(byName.get("trellis_sessions_list")!.inputSchema.properties!)).toEqual(
      expect.arrayContaining(["boardId", "worktreeId", "status", "provider", "cursor", "limit"]),
    );
    await client.close();
  });
});
