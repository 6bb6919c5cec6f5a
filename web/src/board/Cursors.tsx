import { useStore as useFlowStore, ViewportPortal } from "@xyflow/react";
import { memo, useSyncExternalStore } from "react";
import type { PresenceStore } from "./presence.ts";

/**
 * Other people's cursors, drawn in canvas coordinates inside the viewport layer so pan and zoom move
 * them for free. Subscribes to the presence store directly: a cursor frame re-renders this and
 * nothing else. Counter-scaled so labels keep their size at any zoom.
 */
export const Cursors = memo(function Cursors({ presence }: { presence: PresenceStore }) {
  const peers = useSyncExternalStore(presence.subscribeCursors, presence.others);
  const zoom = useFlowStore((s) => s.transform[2]);
  return (
    <ViewportPortal>
      <div className="cursors">
        {peers.map((p) =>
          p.cursor ? (
            <div
              key={p.connectionId}
              className="cursor"
              data-testid="cursor"
              data-name={p.name}
              style={{ transform: `translate(${p.cursor.x}px, ${p.cursor.y}px) scale(${1 / zoom})` }}
            >
              <svg width="22" height="24" viewBox="0 0 18 20" aria-hidden="true">
                <path
                  d="M1.5 1.5 L16 9.2 L9.3 10.7 L6.2 17.6 Z"
                  fill={p.color}
                  stroke="#fff"
                  strokeWidth="1.5"
                  strokeLinejoin="round"
                />
              </svg>
              <span className="cursor-label" style={{ background: p.color }}>
                {p.name}
              </span>
            </div>
          ) : null,
        )}
      </div>
    </ViewportPortal>
  );
});
