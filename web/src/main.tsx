import "@xyflow/react/dist/style.css";
import "./styles/app.css";
import "./styles/board.css";
import "./styles/terminals.css";
import "./styles/sessions.css";
import "./styles/collab.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import { boot } from "./lib/api.ts";

void boot();
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
