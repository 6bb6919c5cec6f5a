import { z } from "zod";
import { Board, CreateBoardBody, CreateZoneBody, Runner, TEMPLATE_VARIABLES, Zone } from "../../../protocol/index.ts";
import { createBoard, getBoard, listBoards } from "../../services/boards.ts";
import { listBoardRunners, listRunners } from "../../services/runners.ts";
import { createZone, listZones } from "../../services/zones.ts";
import { boardId, cursor, documented, limit, pageArray, pageOf, READ, tool, WRITE } from "./define.ts";

export const boardTools = [
  tool({
    name: "trellis_boards_list",
    title: "List boards",
    description: "The boards you belong to, newest first, each with your role on it (owner, member or viewer).",
    input: z.object({ cursor, limit: limit(200, 50) }),
    output: pageOf(Board),
    annotations: READ,
    run: (ctx, q) => listBoards(ctx, q),
  }),
  tool({
    name: "trellis_boards_get",
    title: "Get a board",
    description: "One board: its name, owner and your role on it.",
    input: z.object({ boardId }),
    output: Board,
    annotations: READ,
    run: (ctx, a) => getBoard(ctx, a.boardId),
  }),
  tool({
    name: "trellis_boards_create",
    title: "Create a board",
    description: "Create a board; you are its owner. Share runners with it to create worktrees on it.",
    input: documented(CreateBoardBody, { name: "The board's name (1 to 120 characters)." }),
    output: Board,
    annotations: WRITE,
    run: (ctx, a) => createBoard(ctx, a.name),
  }),
];

export const zoneTools = [
  tool({
    name: "trellis_zones_list",
    title: "List zones",
    description:
      "The zones on a board: named, colored areas of the canvas (x, y, width, height) that group worktree cards, each with the prompt template that runs when a card is dropped in.",
    input: z.object({ boardId, cursor, limit: limit(200, 100) }),
    output: pageOf(Zone),
    annotations: READ,
    run: async (ctx, a) => pageArray(await listZones(ctx, a.boardId), a.cursor, a.limit),
  }),
  tool({
    name: "trellis_zones_create",
    title: "Create a zone",
    description:
      "Create a zone on a board: a named, colored area of the canvas that groups worktree cards. With a trigger, a card moved into it (trellis_worktrees_move, or a drag on the board) sends the zone's prompt to an agent.",
    input: documented(CreateZoneBody, {
      name: "The zone's name (1 to 120 characters).",
      color: "A hex color like #7c3aed.",
      x: "Left edge on the canvas.",
      y: "Top edge on the canvas.",
      width: "Width, 40 to 100,000 (default 480).",
      height: "Height, 40 to 100,000 (default 320).",
      promptTemplate: `The prompt a card moved in sends, with placeholders: ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(", ")}.`,
      trigger:
        "What a card moved in does with the rendered promptTemplate (needs a non-empty template), or null (default) to only move it: { behaviour: new_session (start a session with these settings) | latest_session (send it to the worktree's latest session; a new one if it has none) | ask (show it to the person who moved the card, to send); provider; model; permissionMode; baseUrl (openai only); runtime }. It fires once per card entering the zone, over MCP as on the board.",
    }).extend({ boardId }),
    output: Zone,
    annotations: WRITE,
    run: (ctx, { boardId, ...body }) => createZone(ctx, boardId, body),
  }),
];

export const runnerTools = [
  tool({
    name: "trellis_runners_list",
    title: "List runners",
    description:
      "Runners: the machines that hold the repos and run the agents, with status (online, offline…), what they can serve, and (for their owner) the boards they are shared with. With boardId: the runners shared with that board; without: yours and those shared with your boards.",
    input: z.object({
      boardId: boardId.optional().describe("Only the runners shared with this board."),
      cursor,
      limit: limit(200, 50),
    }),
    output: pageOf(Runner),
    annotations: READ,
    run: async (ctx, a) =>
      pageArray(a.boardId ? await listBoardRunners(ctx, a.boardId) : await listRunners(ctx), a.cursor, a.limit),
  }),
];
