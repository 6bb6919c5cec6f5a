import { applyD1Migrations, env } from "cloudflare:test";
import type { D1Migration } from "@cloudflare/vitest-plugin";
import type { Env } from "../worker/env.ts";

export const testEnv = env as unknown as Env & { TEST_MIGRATIONS: D1Migration[] };

// Runs before each test file; applyD1Migrations skips what is already applied.
await applyD1Migrations(testEnv.DB, testEnv.TEST_MIGRATIONS);
