import { useReactFlow } from "@xyflow/react";
import { type KeyboardEvent, useMemo, useState } from "react";
import { type BoardNode, CARD, isCard } from "./cards.ts";

const MAX_HITS = 8;

/**
 * Find cards by name or branch and fly to one: Enter (or a click) centres the view on it and
 * selects it. Matches are listed as you type, best first (name starts with it, then contains).
 */
export function BoardSearch({ nodes, select }: { nodes: readonly BoardNode[]; select: (ids: string[]) => void }) {
  const flow = useReactFlow<BoardNode>();
  const [q, setQ] = useState("");
  const [at, setAt] = useState(0);
  const hits = useMemo(() => {
    const needle = q.trim().toLowerCase();
    if (!needle) return [];
    const scored: { id: string; name: string; branch: string; score: number; x: number; y: number }[] = [];
    for (const n of nodes) {
      if (!isCard(n)) continue;
      const name = n.data.wt.name.toLowerCase();
      const branch = n.data.wt.branch.toLowerCase();
      const score = name.startsWith(needle) ? 0 : name.includes(needle) ? 1 : branch.includes(needle) ? 2 : -1;
      if (score >= 0) scored.push({ id: n.id, name: n.data.wt.name, branch: n.data.wt.branch, score, ...n.position });
      if (scored.length > 200) break;
    }
    return scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name)).slice(0, MAX_HITS);
  }, [nodes, q]);

  const fly = (i: number) => {
    const hit = hits[i];
    if (!hit) return;
    select([hit.id]);
    void flow.setCenter(hit.x + CARD.width / 2, hit.y + CARD.height / 2, {
      zoom: Math.max(flow.getZoom(), 1),
      duration: 400,
    });
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    e.stopPropagation();
    if (e.key === "ArrowDown") setAt((i) => Math.min(i + 1, hits.length - 1));
    else if (e.key === "ArrowUp") setAt((i) => Math.max(i - 1, 0));
    else if (e.key === "Enter") fly(at);
    else if (e.key === "Escape") setQ("");
  };

  return (
    <div className="board-search nodrag" data-testid="board-search">
      <input
        type="search"
        placeholder="Find a worktree…"
        aria-label="Find a worktree by name or branch"
        value={q}
        onChange={(e) => {
          setQ(e.target.value);
          setAt(0);
        }}
        onKeyDown={onKeyDown}
        data-testid="board-search-input"
      />
      {q.trim() && (
        <ul className="board-search-hits">
          {hits.length === 0 && <li className="muted small">No worktree matches.</li>}
          {hits.map((h, i) => (
            <li key={h.id}>
              <button
                type="button"
                className={i === at ? "current" : ""}
                aria-current={i === at}
                onClick={() => fly(i)}
                data-testid="board-search-hit"
                data-name={h.name}
              >
                <strong>{h.name}</strong> <span className="muted small">{h.branch}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
