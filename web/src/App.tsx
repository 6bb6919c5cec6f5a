import { useEffect, useMemo } from "react";
import { BoardPage } from "./board/BoardPage.tsx";
import { Bell } from "./collab/bell.ts";
import { chimeOn } from "./collab/chime.ts";
import { BellContext } from "./collab/context.ts";
import { listenToInbox } from "./collab/inbox.ts";
import { api, auth } from "./lib/api.ts";
import { match, usePath } from "./lib/router.tsx";
import { useStore } from "./lib/store.ts";
import { AccountPage } from "./pages/AccountPage.tsx";
import { AuthScreen } from "./pages/AuthScreen.tsx";
import { BoardsPage } from "./pages/BoardsPage.tsx";
import { KeysPage } from "./pages/KeysPage.tsx";
import { NotFound } from "./pages/NotFound.tsx";
import { RunnersPage } from "./pages/RunnersPage.tsx";
import { TokensPage } from "./pages/TokensPage.tsx";
import { ConfirmDialog } from "./ui/confirm.tsx";
import { Notices } from "./ui/notices.tsx";

export function App() {
  const state = useStore(auth);
  const route = match(usePath());
  const userId = state.status === "signedIn" ? state.user.id : null;
  // One bell per signed-in person, across pages and boards, fed by this tab's inbox socket.
  const bell = useMemo(() => (userId ? new Bell(api) : null), [userId]);
  useEffect(() => {
    if (!bell || !userId) return;
    const stop = listenToInbox(api, userId, bell);
    return () => {
      stop();
      // Whoever signs in next starts from their own setting.
      chimeOn.set(false);
    };
  }, [bell, userId]);

  let page: React.ReactNode;
  if (state.status === "loading") page = <div className="splash" aria-busy="true" />;
  else if (state.status === "signedOut") page = <AuthScreen notice={state.notice} />;
  else if (route.name === "boards") page = <BoardsPage user={state.user} />;
  else if (route.name === "tokens") page = <TokensPage user={state.user} />;
  else if (route.name === "runners") page = <RunnersPage user={state.user} />;
  else if (route.name === "account") page = <AccountPage user={state.user} />;
  else if (route.name === "keys") page = <KeysPage user={state.user} />;
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
