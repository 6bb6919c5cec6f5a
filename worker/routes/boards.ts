import { Hono } from "hono";
import {
  AddMemberBody,
  CreateBoardBody,
  CreateZoneBody,
  PageQuery,
  PatchBoardBody,
  PatchMemberBody,
  PatchZoneBody,
} from "../../protocol/index.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import { createBoard, deleteBoard, getBoard, listBoards, renameBoard } from "../services/boards.ts";
import { addMember, changeRole, listMembers, removeMember } from "../services/members.ts";
import { createTicket } from "../services/tickets.ts";
import { createZone, deleteZone, listZones, patchZone } from "../services/zones.ts";

export const boards = new Hono<AppEnv>()
  .get("/", valid("query", PageQuery), async (c) => c.json(await listBoards(c.var.ctx, c.req.valid("query"))))
  .post("/", valid("json", CreateBoardBody), async (c) =>
    c.json(await createBoard(c.var.ctx, c.req.valid("json").name), 201),
  )
  .get("/:boardId", async (c) => c.json(await getBoard(c.var.ctx, c.req.param("boardId"))))
  .patch("/:boardId", valid("json", PatchBoardBody), async (c) =>
    c.json(await renameBoard(c.var.ctx, c.req.param("boardId"), c.req.valid("json").name)),
  )
  .delete("/:boardId", async (c) => {
    await deleteBoard(c.var.ctx, c.req.param("boardId"));
    return c.body(null, 204);
  })
  .post("/:boardId/ticket", async (c) => c.json(await createTicket(c.var.ctx, c.req.param("boardId")), 201))
  .get("/:boardId/members", async (c) => c.json({ items: await listMembers(c.var.ctx, c.req.param("boardId")) }))
  .post("/:boardId/members", valid("json", AddMemberBody), async (c) => {
    const { email, role } = c.req.valid("json");
    return c.json(await addMember(c.var.ctx, c.req.param("boardId"), email, role), 201);
  })
  .patch("/:boardId/members/:userId", valid("json", PatchMemberBody), async (c) =>
    c.json(await changeRole(c.var.ctx, c.req.param("boardId"), c.req.param("userId"), c.req.valid("json").role)),
  )
  .delete("/:boardId/members/:userId", async (c) => {
    await removeMember(c.var.ctx, c.req.param("boardId"), c.req.param("userId"));
    return c.body(null, 204);
  })
  .get("/:boardId/zones", async (c) => c.json({ items: await listZones(c.var.ctx, c.req.param("boardId")) }))
  .post("/:boardId/zones", valid("json", CreateZoneBody), async (c) =>
    c.json(await createZone(c.var.ctx, c.req.param("boardId"), c.req.valid("json")), 201),
  )
  .patch("/:boardId/zones/:zoneId", valid("json", PatchZoneBody), async (c) =>
    c.json(await patchZone(c.var.ctx, c.req.param("boardId"), c.req.param("zoneId"), c.req.valid("json"))),
  )
  .delete("/:boardId/zones/:zoneId", async (c) => {
    await deleteZone(c.var.ctx, c.req.param("boardId"), c.req.param("zoneId"));
    return c.body(null, 204);
  });
