import { useEffect, useRef, useState } from "react";

/**
 * A small menu's open state: it closes on a press outside it and on Escape. Escape is taken
 * before anything else hears it, so a side panel that closes on Escape stays open.
 */
export function usePopover<T extends HTMLElement = HTMLDivElement>() {
  const [open, setOpen] = useState(false);
  const ref = useRef<T>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: PointerEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.preventDefault();
      setOpen(false);
    };
    addEventListener("pointerdown", close);
    addEventListener("keydown", esc, true);
    return () => {
      removeEventListener("pointerdown", close);
      removeEventListener("keydown", esc, true);
    };
  }, [open]);
  return { open, setOpen, ref };
}
