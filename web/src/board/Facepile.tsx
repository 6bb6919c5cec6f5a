import { useSyncExternalStore } from "react";
import { Avatar } from "../ui/Avatar.tsx";
import type { PresenceStore } from "./presence.ts";

const MAX_FACES = 5;

/** Who else is here, one face per person (a tab count when someone has several open). */
export function Facepile({ presence }: { presence: PresenceStore }) {
  const people = useSyncExternalStore(presence.subscribeRoster, presence.people);
  if (people.length === 0) return null;
  const extra = people.length - MAX_FACES;
  return (
    <div className="facepile" data-testid="facepile">
      {people.slice(0, MAX_FACES).map((p, i) => (
        // Earlier faces sit on top, so each overlap covers only the edge of the next one's circle.
        <span
          key={p.userId}
          className="face"
          style={{ zIndex: MAX_FACES - i }}
          data-testid="facepile-peer"
          data-name={p.name}
        >
          <Avatar name={p.name} color={p.color} size={28} title={p.tabs > 1 ? `${p.name} · ${p.tabs} tabs` : p.name} />
          {p.tabs > 1 && <span className="face-tabs">{p.tabs}</span>}
        </span>
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
