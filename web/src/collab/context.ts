import { createContext, useContext } from "react";
import type { Bell } from "./bell.ts";

/** The signed-in person's bell, made once for the app and shared by every page and board. */
export const BellContext = createContext<Bell | null>(null);

export function useBell(): Bell | null {
  return useContext(BellContext);
}
