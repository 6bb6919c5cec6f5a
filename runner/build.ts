/**
 * Bundle the runner into `dist/cli.js` and the chunks it loads when first needed, with zod and the
 * protocol inside, so `npx trellis-runner` installs nothing else. Run with `npm run build -w runner`.
 */
import { chmodSync, rmSync } from "node:fs";
import { build } from "esbuild";

const here = new URL(".", import.meta.url).pathname;

rmSync(`${here}dist`, { recursive: true, force: true });
await build({
  entryPoints: { cli: `${here}src/cli.ts` },
  outdir: `${here}dist`,
  // What is imported only when first used (the provider SDKs with the first task, the MCP client,
  // the sandbox's proxy) goes in chunks of its own: an idle runner never reads, parses or holds them.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
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
