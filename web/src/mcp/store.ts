import type { z } from "zod";
import type { CreateMcpServerBody, EntityEvent, McpServer, PatchMcpServerBody } from "../../../protocol/index.ts";
import { type ApiClient, ApiError, expectOk, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";

/**
 * The board's MCP servers (protocol/mcp-servers.ts), oldest first. Kept current by the room's
 * `mcp_server` events and re-read on every (re)join, inside the board's catch-up. A read does
 * not undo what was written here or heard while it was in flight: each id remembers when it was
 * last touched (a counter), and a read only decides for ids untouched since it began.
 */
export class McpServers {
  /** Null until the first read is in. */
  readonly rows = new Store<readonly McpServer[] | null>(null);
  private byId = new Map<string, McpServer>();
  /** Ids removed here or by an event: a read in flight must not bring them back. */
  private gone = new Set<string>();
  private touched = new Map<string, number>();
  private tick = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly boardId: string,
  ) {}

  private routes() {
    return this.api.api.boards[":boardId"]["mcp-servers"];
  }

  get = (id: string): McpServer | undefined => this.byId.get(id);

  apply(e: EntityEvent): void {
    if (e.entity !== "mcp_server") return;
    if (e.op === "removed") this.drop(e.id);
    else if (e.row) this.put(e.row);
  }

  async readAll(): Promise<void> {
    const startedAt = this.tick;
    const { items } = await unwrap(this.routes().$get({ param: { boardId: this.boardId } }));
    const next = new Map<string, McpServer>();
    for (const row of items) {
      const recent = (this.touched.get(row.id) ?? 0) > startedAt;
      if (recent && this.gone.has(row.id)) continue;
      next.set(row.id, recent ? (this.byId.get(row.id) ?? row) : row);
    }
    // Added after the read began: not in it, yet here.
    for (const [id, row] of this.byId) if (!next.has(id) && (this.touched.get(id) ?? 0) > startedAt) next.set(id, row);
    this.byId = next;
    this.publish();
  }

  /** Throws the edge's refusal (4xx) for the form to show as is. */
  async add(body: z.output<typeof CreateMcpServerBody>): Promise<McpServer> {
    const row = await unwrap(this.routes().$post({ param: { boardId: this.boardId }, json: body }));
    this.put(row);
    return row;
  }

  /** Same id, new settings. Throws the edge's refusal (4xx) for the form to show as is. */
  async edit(id: string, body: z.output<typeof PatchMcpServerBody>): Promise<McpServer> {
    const row = await unwrap(
      this.routes()[":serverId"].$patch({ param: { boardId: this.boardId, serverId: id }, json: body }),
    );
    this.put(row);
    return row;
  }

  async remove(id: string): Promise<void> {
    try {
      await expectOk(this.routes()[":serverId"].$delete({ param: { boardId: this.boardId, serverId: id } }));
    } catch (err) {
      // Someone removed it first: the goal is met.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    this.drop(id);
  }

  private put(row: McpServer): void {
    this.touched.set(row.id, ++this.tick);
    if (this.gone.has(row.id)) return;
    this.byId.set(row.id, row);
    this.publish();
  }

  private drop(id: string): void {
    this.touched.set(id, ++this.tick);
    this.gone.add(id);
    if (this.byId.delete(id)) this.publish();
  }

  private publish(): void {
    this.rows.set([...this.byId.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)));
  }
}
