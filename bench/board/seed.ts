/**
 * Seeds a big board straight into the local D1 of a running `wrangler dev` (rows only, no git): a
 * runner and a repo for the foreign keys, zones laid out in a grid, and worktree cards laid out in
 * a grid inside each zone, as the board would show them after months of work. One SQL file, run
 * with `wrangler d1 execute --local --persist-to <the edge's state dir>`.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../test/server.ts";

/** The board's card size (web/src/board/cards.ts) and the gaps between cards and zones. */
const CARD = { width: 264, height: 128 };
const GAP = 24;
const ZONE_PAD = 24;
const ZONE_HEADER = 48;
const ZONE_GAP = 240;
/** D1 binds at most 100 parameters a query; literal VALUES lists have no such limit, but stay modest. */
const ROWS_PER_INSERT = 100;
const COLORS = ["#7c3aed", "#2563eb", "#0891b2", "#059669", "#d97706", "#dc2626", "#db2777", "#475569"];
const WORDS = ["login", "cart", "search", "billing", "api", "docs", "perf", "auth", "deploy", "cache", "ui", "sync"];

export interface SeedPlan {
  boardId: string;
  userId: string;
  cards: number;
  zones: number;
}

export interface Seeded {
  runnerId: string;
  repoId: string;
  zoneIds: string[];
  /** The seeded board's extent in canvas coordinates. */
  bounds: { x: number; y: number; width: number; height: number };
}

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

export function seedSql(plan: SeedPlan): { sql: string; seeded: Seeded } {
  const now = Date.now();
  const id = idMaker(now - 10 * 86_400_000);
  const runnerId = id();
  const repoId = id();
  const perZone = Math.ceil(plan.cards / plan.zones);
  const cols = Math.ceil(Math.sqrt(perZone));
  const rows = Math.ceil(perZone / cols);
  const zoneW = ZONE_PAD * 2 + cols * CARD.width + (cols - 1) * GAP;
  const zoneH = ZONE_HEADER + ZONE_PAD + rows * CARD.height + (rows - 1) * GAP;
  const zoneCols = Math.ceil(Math.sqrt(plan.zones * 1.6));
  const out: string[] = [];

  const runnerInfo = JSON.stringify({
    version: "0.1.0",
    os: "Linux 6.1 x64",
    gitVersion: "2.39.5",
    providers: ["anthropic"],
  });
  out.push(
    `INSERT INTO runners (id, owner_id, name, status, last_seen_at, data) VALUES (${q(runnerId)}, ${q(plan.userId)}, 'bench-runner', 'offline', ${now}, ${q(runnerInfo)});`,
    `INSERT INTO runner_boards (runner_id, board_id) VALUES (${q(runnerId)}, ${q(plan.boardId)});`,
    `INSERT INTO repos (id, runner_id, name, status, default_branch, last_fetched_at, data, created_by) VALUES (${q(repoId)}, ${q(runnerId)}, 'monorepo', 'ready', 'main', ${now}, ${q(JSON.stringify({ source: { kind: "path", path: "/srv/monorepo" }, path: "/srv/monorepo", branches: ["main"] }))}, ${q(plan.userId)});`,
  );

  const zoneIds: string[] = [];
  const zoneRows: string[] = [];
  for (let z = 0; z < plan.zones; z++) {
    const zid = id();
    zoneIds.push(zid);
    const x = (z % zoneCols) * (zoneW + ZONE_GAP);
    const y = Math.floor(z / zoneCols) * (zoneH + ZONE_GAP);
    zoneRows.push(
      `(${q(zid)}, ${q(plan.boardId)}, ${q(`Zone ${z + 1}`)}, ${q(COLORS[z % COLORS.length]!)}, ${x}, ${y}, ${zoneW}, ${zoneH})`,
    );
  }
  out.push(`INSERT INTO zones (id, board_id, name, color, x, y, width, height) VALUES ${zoneRows.join(",\n")};`);

  let batch: string[] = [];
  const flush = () => {
    if (!batch.length) return;
    out.push(
      `INSERT INTO worktrees (id, board_id, repo_id, runner_id, zone_id, name, branch, base_branch, status, x, y, data, created_by, created_at, updated_at) VALUES ${batch.join(",\n")};`,
    );
    batch = [];
  };
  for (let i = 0; i < plan.cards; i++) {
    const z = Math.floor(i / perZone);
    const k = i % perZone;
    const zx = (z % zoneCols) * (zoneW + ZONE_GAP);
    const zy = Math.floor(z / zoneCols) * (zoneH + ZONE_GAP);
    const x = zx + ZONE_PAD + (k % cols) * (CARD.width + GAP);
    const y = zy + ZONE_HEADER + Math.floor(k / cols) * (CARD.height + GAP);
    const name = `${WORDS[i % WORDS.length]}-${i}`;
    // Mostly ready cards with git state; a few still being created, a few that failed.
    const status = i % 97 === 0 ? "error" : i % 41 === 0 ? "creating" : "ready";
    const data =
      status === "ready"
        ? {
            git: {
              head: randomBytes(20).toString("hex"),
              ahead: i % 7,
              behind: i % 3,
              changedFiles: i % 5,
              refreshedAt: now,
            },
            path: `/srv/trellis/worktrees/${repoId}/${name}`,
            notes: i % 4 === 0 ? `Work item ${i}: follow up with review comments` : "",
            ...(i % 3 === 0 ? { issueUrl: `https://github.com/acme/monorepo/issues/${1000 + i}` } : {}),
          }
        : status === "error"
          ? { error: `fatal: a branch named '${name}' already exists`, notes: "" }
          : { notes: "" };
    batch.push(
      `(${q(id())}, ${q(plan.boardId)}, ${q(repoId)}, ${q(runnerId)}, ${q(zoneIds[z]!)}, ${q(name)}, ${q(`feat/${name}`)}, 'main', '${status}', ${x}, ${y}, ${q(JSON.stringify(data))}, ${q(plan.userId)}, ${now}, ${now})`,
    );
    if (batch.length === ROWS_PER_INSERT) flush();
  }
  flush();

  const zoneRowsUsed = Math.ceil(plan.zones / zoneCols);
  return {
    sql: `${out.join("\n")}\n`,
    seeded: {
      runnerId,
      repoId,
      zoneIds,
      bounds: {
        x: 0,
        y: 0,
        width: Math.min(plan.zones, zoneCols) * (zoneW + ZONE_GAP) - ZONE_GAP,
        height: zoneRowsUsed * (zoneH + ZONE_GAP) - ZONE_GAP,
      },
    },
  };
}

/** Write the SQL next to the edge's state and run it against that local D1. */
export function seed(stateDir: string, plan: SeedPlan): Seeded {
  const { sql, seeded } = seedSql(plan);
  executeLocalSql(stateDir, sql, "bench-board-seed.sql");
  return seeded;
}

/** Run SQL against the local D1 of a `wrangler dev` started with `--persist-to stateDir`. */
export function executeLocalSql(stateDir: string, sql: string, fileName: string): void {
  const file = join(stateDir, fileName);
  writeFileSync(file, sql);
  const bin = join(ROOT, "node_modules/.bin");
  const r = spawnSync(
    join(bin, "wrangler"),
    ["d1", "execute", "DB", "--local", "--persist-to", stateDir, "--file", file, "--yes"],
    {
      cwd: ROOT,
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        WRANGLER_SEND_METRICS: "false",
        NO_COLOR: "1",
        CI: "1",
      },
    },
  );
  if (r.status !== 0) throw new Error(`seeding D1 failed:\n${r.stdout}\n${r.stderr}`);
}
