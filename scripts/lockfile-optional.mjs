// Plain JS on purpose: CI runs it with the machine's Node before `npm ci` installs Node 22.
//
// npm leaves an optional platform package (biome's or workerd's darwin/win32 builds) out of
// package-lock.json when the registry it resolved against does not carry that exact version.
// `npm ci` then refuses the lock as "out of sync", although the package could never be installed
// on this platform anyway. This adds the missing entries as optional, os-tagged stubs, which npm ci
// accepts and skips. Idempotent; touches nothing else.
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
      optional: true,
      ...(os ? { os: [os === "windows" ? "win32" : os] } : {}),
    };
    added++;
  }
}
if (added) writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: ${added} missing optional platform entr${added === 1 ? "y" : "ies"} added`);
