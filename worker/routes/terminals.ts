import { Hono } from "hono";
import { CreateTerminalBody, TerminalAccessBody } from "../../protocol/index.ts";
import { valid } from "../lib/validate.ts";
import type { AppEnv } from "../middleware.ts";
import {
  createTerminal,
  createTerminalTicket,
  endTerminal,
  listBoardTerminals,
  listTerminalEvents,
  setTerminalAccess,
} from "../services/terminals.ts";

/** `/api/boards/:boardId/…`: a board's terminals, and opening one in a worktree. */
export const boardTerminals = new Hono<AppEnv>()
  .get("/:boardId/terminals", async (c) =>
    c.json({ items: await listBoardTerminals(c.var.ctx, c.req.param("boardId")) }),
  )
  .post("/:boardId/worktrees/:worktreeId/terminals", valid("json", CreateTerminalBody), async (c) =>
    c.json(
      await createTerminal(c.var.ctx, c.req.param("boardId"), c.req.param("worktreeId"), c.req.valid("json")),
      201,
    ),
  );

/** `/api/terminals/:terminalId/…`: a ticket for its socket, and "End terminal". */
export const terminals = new Hono<AppEnv>()
  .post("/:terminalId/ticket", async (c) =>
    c.json(await createTerminalTicket(c.var.ctx, c.req.param("terminalId")), 201),
  )
  .delete("/:terminalId", async (c) => c.json(await endTerminal(c.var.ctx, c.req.param("terminalId"))));

/** `/api/runners/:runnerId/…`: the owner's terminal setting and record. */
export const runnerTerminals = new Hono<AppEnv>()
  .put("/:runnerId/terminal-access", valid("json", TerminalAccessBody), async (c) =>
    c.json(await setTerminalAccess(c.var.ctx, c.req.param("runnerId"), c.req.valid("json").terminalAccess)),
  )
  .get("/:runnerId/terminal-events", async (c) =>
    c.json({ items: await listTerminalEvents(c.var.ctx, c.req.param("runnerId")) }),
  );
