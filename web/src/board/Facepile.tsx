import { type CSSProperties, useSyncExternalStore } from "react";
import { useBoardCollab } from "../collab/boardContext.ts";
import { useStore } from "../lib/store.ts";
import { Avatar } from "../ui/Avatar.tsx";
import type { PresenceStore } from "./presence.ts";

const MAX_FACES = 5;

/**
 * Who else is here, one face per person (a tab count when someone has several open). A click on
 * a face follows that person's view; another click stops.
 */
export function Facepile({ presence }: { presence: PresenceStore }) {
  const people = useSyncExternalStore(presence.subscribeRoster, presence.people);
  const { follow } = useBoardCollab();
  const leader = useStore(follow.leader);
  if (people.length === 0) return null;
  const extra = people.length - MAX_FACES;
  return (
    <div className="facepile" data-testid="facepile">
      {people.slice(0, MAX_FACES).map((p, i) => (
        // Earlier faces sit on top, so each overlap covers only the edge of the next one's circle.
        <button
          type="button"
          key={p.userId}
          className={`face face-btn${leader?.userId === p.userId ? " following" : ""}`}
          style={{ zIndex: MAX_FACES - i, "--face": p.color } as CSSProperties}
          onClick={() => (leader?.userId === p.userId ? follow.stop() : follow.start(p.userId, p.name))}
          aria-pressed={leader?.userId === p.userId}
          data-testid="facepile-peer"
          data-name={p.name}
        >
          <Avatar
            name={p.name}
            color={p.color}
            size={28}
            title={`${p.tabs > 1 ? `${p.name} · ${p.tabs} tabs` : p.name} — ${leader?.userId === p.userId ? "click to stop following" : "click to follow their view"}`}
          />
          {p.tabs > 1 && <span className="face-tabs">{p.tabs}</span>}
        </button>
      ))}
      {extra > 0 && (
        <span
          className="face face-more"
          title={people
            .slice(MAX_FACES)
            .map((p) => p.name)
            .join(", ")}
        >
          +{extra}
        </span>
      )}
    </div>
  );
}
