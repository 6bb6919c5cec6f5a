import { createContext, useContext } from "react";
import type { Role } from "../../../protocol/index.ts";
import type { RunnerStore } from "../runners/store.ts";
import type { TerminalStore } from "./store.ts";

/** What a card needs to list its terminals and open one: given once by the board page. */
export interface TerminalsContextValue {
  store: TerminalStore;
  runners: RunnerStore;
  meId: string;
  role: Role | null;
}

export const TerminalsContext = createContext<TerminalsContextValue | null>(null);

export const useTerminals = () => useContext(TerminalsContext);
