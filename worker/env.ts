import type { BoardRoom } from "../party/board-room.ts";
import type { RunnerLink } from "../party/runner-link.ts";
import type { UserInbox } from "../party/user-inbox.ts";

export interface Env {
  DB: D1Database;
  ASSETS: Fetcher;
  BoardRoom: DurableObjectNamespace<BoardRoom>;
  RunnerLink: DurableObjectNamespace<RunnerLink>;
  UserInbox: DurableObjectNamespace<UserInbox>;
  /** OAuth clients, grants and tokens for outside MCP clients (@cloudflare/workers-oauth-provider). */
  OAUTH_KV: KVNamespace;
  /** HMAC key for access-token JWTs (base64, ≥ 32 bytes). */
  JWT_SECRET: string;
  /** AES-GCM key for secrets users store (base64, 32 bytes). */
  ENCRYPTION_KEY: string;
  /** "1" only on a local install started by `npm start`. */
  SINGLE_USER?: string;
  /** Extra origins allowed to open browser sockets and call the API, comma-separated. */
  ALLOWED_ORIGINS?: string;
  /**
   * The origin Trellis is served at (`https://trellis.example.com`). When set, the API, `/mcp` and
   * OAuth answer only requests addressed to its host or to loopback (`worker/middleware.ts`).
   */
  PUBLIC_URL?: string;
}
