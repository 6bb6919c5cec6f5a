import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { RepoSource } from "../../protocol/index.ts";
import { writeFileAtomic } from "./files.ts";

const RepoRecord = z.object({
  path: z.string(),
  name: z.string(),
  source: RepoSource,
  /** cloned into the data dir by us (true) or a folder the user owns, used in place (false) */
  cloned: z.boolean(),
  addedAt: z.number(),
});
export type RepoRecord = z.infer<typeof RepoRecord>;

const StateFile = z.object({ version: z.literal(1), repos: z.record(z.string(), RepoRecord) });
type StateFile = z.infer<typeof StateFile>;

/**
 * What this runner knows locally: repo id → folder. Small, so it is read once and rewritten whole
 * (atomically) on every change; writes are serialized so two jobs never lose each other's entry.
 */
export class LocalState {
  readonly path: string;
  private data: StateFile = { version: 1, repos: {} };
  private writes: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    this.path = join(dataDir, "state.json");
  }

  static async open(dataDir: string): Promise<LocalState> {
    const state = new LocalState(dataDir);
    await state.load();
    return state;
  }

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const parsed = StateFile.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.path} is not a runner state file: move it away and start again`);
    this.data = parsed.data;
  }

  repo(repoId: string): RepoRecord | undefined {
    return this.data.repos[repoId];
  }

  repos(): [string, RepoRecord][] {
    return Object.entries(this.data.repos);
  }

  setRepo(repoId: string, record: RepoRecord): Promise<void> {
    this.data.repos[repoId] = record;
    return this.save();
  }

  deleteRepo(repoId: string): Promise<void> {
    if (!this.data.repos[repoId]) return Promise.resolve();
    delete this.data.repos[repoId];
    return this.save();
  }

  private save(): Promise<void> {
    const next = this.writes.then(() => writeFileAtomic(this.path, `${JSON.stringify(this.data, null, 2)}\n`));
    this.writes = next.catch(() => {});
    return next;
  }
}
