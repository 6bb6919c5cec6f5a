import { useEffect, useMemo } from "react";
import { BoardPage } from "./board/BoardPage.tsx";
import { Bell } from "./collab/bell.ts";
import { BellContext } from "./collab/context.ts";
import { api, auth } from "./lib/api.ts";
import { match, usePath } from "./lib/router.tsx";
import { useStore } from "./lib/store.ts";
import { AccountPage } from "./pages/AccountPage.tsx";
import { AuthScreen } from "./pages/AuthScreen.tsx";
import { BoardsPage } from "./pages/BoardsPage.tsx";
import { NotFound } from "./pages/NotFound.tsx";
import { RunnersPage } from "./pages/RunnersPage.tsx";
import { TokensPage } from "./pages/TokensPage.tsx";
import { ConfirmDialog } from "./ui/confirm.tsx";
import { Notices } from "./ui/notices.tsx";

export function App() {
  const state = useStore(auth);
  const route = match(usePath());
  const userId = state.status === "signedIn" ? state.user.id : null;
  // One bell per signed-in person, across pages and boards.
  const bell = useMemo(() => (userId ? new Bell(api) : null), [userId]);
  useEffect(() => {
    if (!bell) return;
    // Read at sign-in and whenever the tab comes back: what arrived while no board was open.
    const read = () => void bell.read().catch(() => {});
    const onVisible = () => document.visibilityState === "visible" && read();
    read();
    addEventListener("focus", read);
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      removeEventListener("focus", read);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [bell]);

  let page: React.ReactNode;
  if (state.status === "loading") page = <div className="splash" aria-busy="true" />;
  else if (state.status === "signedOut") page = <AuthScreen notice={state.notice} />;
  else if (route.name === "boards") page = <BoardsPage user={state.user} />;
  else if (route.name === "tokens") page = <TokensPage user={state.user} />;
  else if (route.name === "runners") page = <RunnersPage user={state.user} />;
  else if (route.name === "account") page = <AccountPage user={state.user} />;
  // Keyed by board so switching boards starts from a clean slate (socket, presence, canvas).
  else if (route.name === "board") page = <BoardPage key={route.boardId} boardId={route.boardId} user={state.user} />;
  else page = <NotFound user={state.user} />;

  return (
    <BellContext.Provider value={bell}>
      {page}
      <ConfirmDialog />
      <Notices />
    </BellContext.Provider>
  );
}
