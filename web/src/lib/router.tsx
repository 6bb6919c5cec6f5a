import type { AnchorHTMLAttributes, MouseEvent } from "react";
import { Store, useStore } from "./store.ts";

/** The path, from the History API. The Worker serves index.html for every non-API path. */
const path = new Store(location.pathname);
/** The query string (`?comment=…`, `?session=…`): a link into a board says where to look. */
export const search = new Store(location.search);
addEventListener("popstate", () => {
  path.set(location.pathname);
  search.set(location.search);
});

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  path.set(location.pathname);
  search.set(location.search);
}

export const usePath = () => useStore(path);
export const useSearch = () => useStore(search);

export type Route =
  | { name: "boards" }
  | { name: "board"; boardId: string }
  | { name: "tokens" }
  | { name: "runners" }
  | { name: "account" }
  | { name: "missing" };

export function match(p: string): Route {
  if (p === "/" || p === "") return { name: "boards" };
  if (p === "/tokens") return { name: "tokens" };
  if (p === "/runners") return { name: "runners" };
  if (p === "/account") return { name: "account" };
  const board = /^\/b\/([^/]+)\/?$/.exec(p);
  if (board) return { name: "board", boardId: decodeURIComponent(board[1]!) };
  return { name: "missing" };
}

/** An anchor that navigates in-app on a plain click and behaves normally with modifier keys. */
export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={handle} {...rest} />;
}
