/**
 * Seeds a board's sessions straight into the local D1 of a running `wrangler dev`: a runner, a
 * repo and worktrees for the foreign keys, then sessions spread over the worktrees in every
 * status, each with a task or two, as a busy board would have after a few weeks.
 */
import { randomBytes } from "node:crypto";
import { executeLocalSql } from "../board/seed.ts";

const ROWS_PER_INSERT = 100;
const STATUSES = ["idle", "completed", "completed", "completed", "failed", "stopped", "running", "queued"];

/** UUIDv7-shaped ids in increasing order, so paging by id walks them in creation order. */
function idMaker(startMs: number) {
  let n = 0;
  return () => {
    const ms = startMs + n++;
    const hex = ms.toString(16).padStart(12, "0") + randomBytes(10).toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-${"89ab"[n % 4]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
}

const q = (s: string | null) => (s === null ? "NULL" : `'${s.replace(/'/g, "''")}'`);

export function seedSessions(
  stateDir: string,
  plan: { boardId: string; userId: string; sessions: number; worktrees: number },
): string[] {
  const now = Date.now();
  const id = idMaker(now - 10 * 86_400_000);
  const runnerId = id();
  const repoId = id();
  const out: string[] = [
    `INSERT INTO runners (id, owner_id, name, status, last_seen_at, data) VALUES (${q(runnerId)}, ${q(plan.userId)}, 'bench-runner', 'offline', ${now}, '{}');`,
    `INSERT INTO runner_boards (runner_id, board_id) VALUES (${q(runnerId)}, ${q(plan.boardId)});`,
    `INSERT INTO repos (id, runner_id, name, status, default_branch, data, created_by) VALUES (${q(repoId)}, ${q(runnerId)}, 'monorepo', 'ready', 'main', '{}', ${q(plan.userId)});`,
  ];
  const worktreeIds: string[] = [];
  const wtRows: string[] = [];
  for (let w = 0; w < plan.worktrees; w++) {
    const wid = id();
    worktreeIds.push(wid);
    wtRows.push(
      `(${q(wid)}, ${q(plan.boardId)}, ${q(repoId)}, ${q(runnerId)}, ${q(`wt-${w}`)}, ${q(`feat/wt-${w}`)}, 'ready', ${w * 300}, 0, ${q(JSON.stringify({ path: `/srv/wt-${w}` }))}, ${q(plan.userId)})`,
    );
  }
  out.push(
    `INSERT INTO worktrees (id, board_id, repo_id, runner_id, name, branch, status, x, y, data, created_by) VALUES ${wtRows.join(",\n")};`,
  );
  const sessionIds: string[] = [];
  let sessions: string[] = [];
  let tasks: string[] = [];
  const flush = () => {
    if (sessions.length)
      out.push(
        `INSERT INTO sessions (id, board_id, worktree_id, provider, model, status, title, input_tokens, output_tokens, cost_micros, message_count, data, created_by) VALUES ${sessions.join(",\n")};`,
      );
    if (tasks.length)
      out.push(
        `INSERT INTO tasks (id, board_id, session_id, title, status, author_id, input_tokens, output_tokens, cost_micros, data) VALUES ${tasks.join(",\n")};`,
      );
    sessions = [];
    tasks = [];
  };
  for (let i = 0; i < plan.sessions; i++) {
    const sid = id();
    sessionIds.push(sid);
    const status = STATUSES[i % STATUSES.length]!;
    const data = {
      permissionMode: "ask",
      baseUrl: null,
      origin: i % 5 === 0 ? "spawn" : null,
      nowDoing: status === "running" ? "Running `npm test`" : null,
      todos: [{ text: "Read the code", status: "done" }],
    };
    sessions.push(
      `(${q(sid)}, ${q(plan.boardId)}, ${q(worktreeIds[i % worktreeIds.length]!)}, 'anthropic', 'claude-sonnet-4-5', '${status}', ${q(`Session ${i}: fix the flaky test`)}, ${1000 + i}, ${200 + i}, ${i * 10}, 4, ${q(JSON.stringify(data))}, ${q(plan.userId)})`,
    );
    for (let t = 0; t < 2; t++) {
      const prompt = `Prompt ${t} of session ${i}: make the suite green`;
      tasks.push(
        `(${q(id())}, ${q(plan.boardId)}, ${q(sid)}, ${q(prompt)}, 'completed', ${q(plan.userId)}, 500, 100, 5, ${q(JSON.stringify({ prompt, authorName: "Bench" }))})`,
      );
    }
    if (sessions.length === ROWS_PER_INSERT) flush();
  }
  flush();
  executeLocalSql(stateDir, `${out.join("\n")}\n`, "bench-mcp-seed.sql");
  return sessionIds;
}
