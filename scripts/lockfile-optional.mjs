// Plain JS on purpose: CI runs it with the machine's Node before `npm ci` installs Node 22.
//
// npm leaves an optional platform package (biome's or workerd's darwin/win32 builds) out of
// package-lock.json when the registry it resolved against does not carry that exact version.
// `npm ci` then refuses the lock as "out of sync", although the package could never be installed
// on this platform anyway. This adds the missing entries as optional, os-tagged stubs, which npm ci
// accepts and skips. The stubs are written the way `npm install` itself writes them (flagged `dev`
// under a dev dependency, keys in npm's order), so a later `npm install` leaves the file as it is
// and a fresh clone stays clean. Idempotent; touches nothing else.
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const pkgs = lock.packages;
let added = 0;
for (const [path, entry] of Object.entries(pkgs)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = path ? `${path}/node_modules/${name}` : `node_modules/${name}`;
    if (pkgs[nested] || pkgs[`node_modules/${name}`]) continue;
    const os = name.match(/(darwin|win32|windows|linux|android|freebsd|openbsd|netbsd|sunos|aix)/)?.[1];
    pkgs[`node_modules/${name}`] = {
      version: range.replace(/^[\^~]/, ""),
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...(os ? { os: [os === "windows" ? "win32" : os] } : {}),
    };
    added++;
  }
}
if (added) {
  // npm keeps the root entry first and sorts the rest with an English collation.
  const [root, ...rest] = Object.keys(pkgs);
  const sorted = [root, ...rest.sort((a, b) => a.localeCompare(b, "en"))];
  lock.packages = Object.fromEntries(sorted.map((k) => [k, pkgs[k]]));
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
}
console.log(`lockfile: ${added} missing optional platform entr${added === 1 ? "y" : "ies"} added`);
