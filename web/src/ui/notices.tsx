import { Store, useStore } from "../lib/store.ts";

type Notice = { id: number; text: string; kind: "info" | "error" };

const notices = new Store<Notice[]>([]);
let seq = 0;

/** A short message in the corner that goes away by itself: saved-failed errors, "you were removed". */
export function notify(text: string, kind: Notice["kind"] = "info"): void {
  const id = ++seq;
  notices.update((list) => [...list.slice(-3), { id, text, kind }]);
  setTimeout(() => notices.update((list) => list.filter((n) => n.id !== id)), kind === "error" ? 7000 : 4500);
}

export function Notices() {
  const list = useStore(notices);
  return (
    <div className="notices" role="status" aria-live="polite">
      {list.map((n) => (
        <div key={n.id} className={`notice notice-${n.kind}`} data-testid="notice">
          {n.text}
        </div>
      ))}
    </div>
  );
}
