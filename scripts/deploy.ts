/**
 * `npm run deploy`: Trellis on your Cloudflare account. Idempotent; run it again to ship changes.
 *   1. create the D1 database `trellis` and the KV namespace `trellis-oauth` (MCP's OAuth) if
 *      they do not exist, and put their ids in wrangler.toml
 *   2. apply migrations remotely
 *   3. set JWT_SECRET and ENCRYPTION_KEY once (random; never printed)
 *   4. build the board and `wrangler deploy`
 * Needs `npx wrangler login` (or CLOUDFLARE_API_TOKEN) first.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const wrangler = (args: string[], input?: string) =>
  execFileSync("npx", ["wrangler", ...args], {
    cwd: root,
    encoding: "utf8",
    input,
    stdio: ["pipe", "pipe", "inherit"],
  });
const step = (args: string[]) => {
  const r = spawnSync("npx", args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`\`npx ${args.join(" ")}\` failed`);
};

const dbs = JSON.parse(wrangler(["d1", "list", "--json"])) as Array<{ name: string; uuid: string }>;
let id = dbs.find((d) => d.name === "trellis")?.uuid;
if (!id) {
  const out = wrangler(["d1", "create", "trellis"]);
  id = out.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)?.[0];
  if (!id) throw new Error(`could not read the new database id from:\n${out}`);
}
const namespaces = JSON.parse(wrangler(["kv", "namespace", "list"])) as Array<{ id: string; title: string }>;
let kvId = namespaces.find((n) => n.title === "trellis-oauth")?.id;
if (!kvId) {
  const out = wrangler(["kv", "namespace", "create", "trellis-oauth"]);
  kvId = out.match(/\b[0-9a-f]{32}\b/)?.[0];
  if (!kvId) throw new Error(`could not read the new KV namespace id from:\n${out}`);
}
const toml = readFileSync(`${root}wrangler.toml`, "utf8");
writeFileSync(
  `${root}wrangler.toml`,
  toml
    .replace(/database_id = "[^"]*"/, `database_id = "${id}"`)
    .replace(/(binding = "OAUTH_KV"\n(?:#.*\n)*id = )"[^"]*"/, `$1"${kvId}"`),
);
console.log(`D1 database trellis: ${id}; KV namespace trellis-oauth: ${kvId}`);

step(["wrangler", "d1", "migrations", "apply", "DB", "--remote"]);

const secrets = JSON.parse(wrangler(["secret", "list", "--format", "json"]) || "[]") as Array<{ name: string }>;
for (const name of ["JWT_SECRET", "ENCRYPTION_KEY"]) {
  if (secrets.some((s) => s.name === name)) continue;
  wrangler(["secret", "put", name], randomBytes(32).toString("base64"));
  console.log(`set secret ${name}`);
}

step(["vite", "build", "--config", "web/vite.config.ts"]);
step(["wrangler", "deploy"]);
