/**
 * Bundle the runner into one file, `dist/cli.js`, with zod and the protocol inside, so
 * `npx trellis-runner` installs nothing else. Run with `npm run build -w runner`.
 */
import { chmodSync } from "node:fs";
import { build } from "esbuild";

const here = new URL(".", import.meta.url).pathname;

await build({
  entryPoints: [`${here}src/cli.ts`],
  outfile: `${here}dist/cli.js`,
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  // The entry's own `#!` line is kept by esbuild; nothing else is needed to run it as a bin.
  legalComments: "none",
  // A native module with a prebuilt binary per platform: installed beside the bundle, loaded on the first terminal.
  external: ["@lydell/node-pty"],
  logLevel: "warning",
});
chmodSync(`${here}dist/cli.js`, 0o755);
