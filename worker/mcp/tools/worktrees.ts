import { z } from "zod";
import { CreateWorktreeBody, Id, Worktree } from "../../../protocol/index.ts";
import { createWorktree, getWorktree, listWorktrees, moveWorktree } from "../../services/worktrees.ts";
import { boardId, cursor, documented, limit, pageOf, READ, tool, WRITE, worktreeId } from "./define.ts";

const Position = z.number().finite().min(-1_000_000).max(1_000_000);

export const worktreeTools = [
  tool({
    name: "trellis_worktrees_list",
    title: "List worktrees",
    description:
      "The worktree cards on a board, oldest first: each is one git worktree on a runner, with its branch, status (creating, ready, deleting, error), zone, position and git state. Filter by zoneId or status.",
    input: z.object({
      boardId,
      zoneId: Id.optional().describe("Only cards in this zone (from trellis_zones_list)."),
      status: Worktree.shape.status.optional().describe("Only cards in this status."),
      cursor,
      limit: limit(500, 100),
    }),
    output: pageOf(Worktree),
    annotations: READ,
    run: (ctx, { boardId, ...q }) => listWorktrees(ctx, boardId, q),
  }),
  tool({
    name: "trellis_worktrees_get",
    title: "Get a worktree",
    description: "One worktree card: its repo, runner, branch, status, zone, position, git state, path and error.",
    input: z.object({ boardId, worktreeId }),
    output: Worktree,
    annotations: READ,
    run: (ctx, a) => getWorktree(ctx, a.boardId, a.worktreeId),
  }),
  tool({
    name: "trellis_worktrees_create",
    title: "Create a worktree",
    description:
      "Create a git worktree (and its card) from a repo on a runner shared with the board: mode new makes branch from baseBranch, mode existing checks out a branch that exists. The card shows status creating until the runner has made it, then ready.",
    input: documented(CreateWorktreeBody, {
      repoId: "The repo on a runner shared with this board.",
      name: "The worktree's name: one folder name (letters, digits, . _ -).",
      mode: "new (default): create branch from baseBranch; existing: check out branch.",
      branch: "The git branch the worktree holds.",
      baseBranch: "new mode: the branch to start from (default: the repo's default branch).",
      issueUrl: "An http(s) link to the issue this work is for.",
      notes: "Notes shown on the card.",
      x: "Position on the canvas.",
      y: "Position on the canvas.",
      zoneId: "The zone to put the card in, or null.",
    }).extend({ boardId }),
    output: Worktree,
    annotations: WRITE,
    run: (ctx, { boardId, ...body }) => createWorktree(ctx, boardId, body),
  }),
  tool({
    name: "trellis_worktrees_move",
    title: "Move a worktree",
    description:
      "Move a worktree card into a zone at an exact position inside it (x, y measured from the zone's top-left corner, within its width and height), or out of every zone (zoneId null, x, y on the canvas). Moving into a zone with a trigger (see trellis_zones_list) fires it once, as a drop on the board does: new_session starts an agent session in the worktree with the zone's rendered prompt, latest_session sends that prompt to the worktree's latest session, ask only shows it to you on the board to send. Moving within the zone the card is already in fires nothing.",
    input: z.object({
      boardId,
      worktreeId,
      zoneId: Id.nullable().describe("The zone to move into (from trellis_zones_list), or null for the open canvas."),
      x: Position.describe("From the zone's left edge (or the canvas origin when zoneId is null)."),
      y: Position.describe("From the zone's top edge (or the canvas origin when zoneId is null)."),
    }),
    output: Worktree,
    // The same move again fires nothing more (the card is in the zone already), and what a trigger
    // starts is a session inside Trellis, as trellis_sessions_create's: additive, not open-world.
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: (ctx, { boardId, worktreeId, ...to }) => moveWorktree(ctx, boardId, worktreeId, to),
  }),
];
