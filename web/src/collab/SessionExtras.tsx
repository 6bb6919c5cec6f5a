import { useSyncExternalStore } from "react";
import type { Session } from "../../../protocol/index.ts";
import { isZone } from "../board/cards.ts";
import { useSessions } from "../sessions/context.ts";
import { CommentBadge } from "./CommentBadge.tsx";

/** The session panel's collaboration line: the zone that started it, and its comments. */
export function SessionExtras({ session }: { session: Session }) {
  const { entities } = useSessions();
  const zoneName = useSyncExternalStore(entities.nodes.subscribe, () => {
    if (!session.zoneId) return null;
    const n = entities.node(session.zoneId);
    return n && isZone(n) ? n.data.zone.name : "a removed zone";
  });
  return (
    <>
      {zoneName && (
        <span
          className="session-zone"
          title="Started by the zone's trigger when the card was dropped in it"
          data-testid="session-zone"
        >
          ⚡ started by zone {zoneName}
        </span>
      )}
      <CommentBadge target="session" targetId={session.id} visible />
    </>
  );
}
