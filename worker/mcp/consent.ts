import { AuthorizationError, CimdFetchError, type ConsentDescription } from "@cloudflare/workers-oauth-provider";
import { depsFor } from "../context.ts";
import type { Env } from "../env.ts";
import { bearer, originAllowed } from "../middleware.ts";
import { authenticateUser } from "../services/credentials.ts";
import { MCP_SCOPE, type OAuthPair } from "./oauth.ts";

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const text = (status: number, message: string) =>
  new Response(message, { status, headers: { "content-type": "text/plain; charset=utf-8" } });

/**
 * The consent page, on Trellis's own sign-in. The page signs in the way the board does (the
 * refresh cookie, or email and password, or the local owner on a single-user install) to get an
 * access token, and sends the decision with it: the form cannot be forged from another site (no
 * token without our origin's cookie or password) nor replayed (the library's handle works once,
 * in the browser it was given to). Everything the client chose (its name) is escaped.
 */
function page(d: ConsentDescription, handle: string, nonce: string): string {
  const name = escapeHtml(d.clientName);
  const who = d.clientDomain
    ? `Published by <strong>${escapeHtml(d.clientDomain)}</strong>.`
    : "This app registered itself: its name is not verified.";
  const local = d.redirectIsLoopback
    ? "<p class=warn><strong>This sends access to an app on your computer.</strong> Continue only if you just started connecting it.</p>"
    : "";
  return `<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Connect ${name} to Trellis</title>
<style nonce="${nonce}">
body{font:15px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2937}
h1{font-size:1.3rem}.warn{background:#fef3c7;padding:.5rem .75rem;border-radius:6px}
button{font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid #cbd5e1;background:#fff;cursor:pointer}
button.primary{background:#7c3aed;color:#fff;border-color:#7c3aed}input{font:inherit;width:100%;padding:.4rem;margin:.2rem 0 .6rem;box-sizing:border-box}
[hidden]{display:none}.err{color:#b91c1c}
</style>
<h1>Allow <span>${name}</span> to use Trellis as you?</h1>
<p>${who} Access will be sent to <strong>${escapeHtml(d.redirectHost)}</strong>.</p>
${local}
<p>It will see the boards you can see and act on them as you can: start, prompt, stop, fork and spawn sessions, create worktrees, boards and zones.</p>
<form id=signin hidden><p>Sign in to Trellis first.</p>
<label>Email<input name=email type=email autocomplete=username required></label>
<label>Password<input name=password type=password autocomplete=current-password required></label>
<button class=primary>Sign in</button></form>
<div id=decide hidden><p>Signed in as <strong id=who></strong>.</p>
<button class=primary id=allow>Allow</button> <button id=deny>Deny</button></div>
<p class=err id=err></p>
<script nonce="${nonce}" id=consent data-handle="${escapeHtml(handle)}">
const handle=document.getElementById("consent").dataset.handle;let token=null;
const $=(id)=>document.getElementById(id);
const post=(path,body,auth)=>fetch(path,{method:"POST",headers:{"content-type":"application/json",...(auth?{authorization:"Bearer "+auth}:{})},body:JSON.stringify(body)});
function signedIn(s){token=s.accessToken;$("who").textContent=s.user.name+" ("+s.user.email+")";$("signin").hidden=true;$("decide").hidden=false;}
async function start(){
  const cfg=await (await fetch("/api/config")).json();
  const r=await post(cfg.singleUser?"/api/auth/local":"/api/auth/refresh",{});
  if(r.ok)return signedIn(await r.json());
  $("signin").hidden=false;
}
$("signin").addEventListener("submit",async(e)=>{e.preventDefault();const f=new FormData(e.target);
  const r=await post("/api/auth/login",{email:f.get("email"),password:f.get("password")});
  if(r.ok)signedIn(await r.json());else $("err").textContent=((await r.json()).error||{}).message||"Sign-in failed.";});
async function decide(decision){const r=await post(location.pathname,{handle,decision},token);const b=await r.json();
  if(r.ok&&b.redirectTo)location.href=b.redirectTo;else $("err").textContent=(b.error||{}).message||"Something went wrong.";}
$("allow").addEventListener("click",()=>decide("approve"));$("deny").addEventListener("click",()=>decide("deny"));
start();
</script>`;
}

function failure(err: unknown): Response {
  if (err instanceof AuthorizationError && err.redirectTo) return Response.redirect(err.redirectTo, 302);
  if (err instanceof AuthorizationError)
    return text(400, err.description ?? "This authorization request is not valid.");
  if (err instanceof CimdFetchError) return text(400, "This app could not be verified.");
  throw err;
}

/** `GET /oauth/authorize`: check the client's request, then the page. */
export async function showConsent(request: Request, env: Env, oauth: OAuthPair): Promise<Response> {
  const api = oauth.authorizationServer.getOAuthApi(env);
  try {
    const authRequest = await api.parseAuthRequest(request);
    const details = await api.describeConsent(authRequest);
    const consent = await api.beginConsent(authRequest);
    const nonce = crypto.randomUUID();
    consent.headers.set("content-type", "text/html; charset=utf-8");
    consent.headers.set(
      "content-security-policy",
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    consent.headers.set("cache-control", "no-store");
    return new Response(page(details, consent.handle, nonce), { headers: consent.headers });
  } catch (err) {
    return failure(err);
  }
}

/**
 * `POST /oauth/authorize` `{ handle, decision }` with the signed-in user's access token: the
 * grant is the user's (props name them; every tool call checks their access as REST does).
 */
export async function decideConsent(request: Request, env: Env, oauth: OAuthPair): Promise<Response> {
  const refuse = (status: number, code: string, message: string) =>
    Response.json({ error: { code, message } }, { status });
  if (!request.headers.get("origin") || !originAllowed(env, request)) {
    return refuse(403, "bad_origin", "Consent is given on Trellis's own page only.");
  }
  const token = bearer(request.headers.get("authorization") ?? undefined);
  const actor = token ? await authenticateUser(depsFor(env), token) : null;
  if (actor?.kind !== "user" || actor.via !== "jwt") {
    return refuse(401, "unauthorized", "Sign in to Trellis to decide.");
  }
  let body: { handle?: unknown; decision?: unknown };
  try {
    body = await request.json();
  } catch {
    return refuse(400, "bad_json", "Body is not valid JSON.");
  }
  if (typeof body.handle !== "string" || (body.decision !== "approve" && body.decision !== "deny")) {
    return refuse(400, "bad_request", "Send { handle, decision: 'approve' | 'deny' }.");
  }
  const api = oauth.authorizationServer.getOAuthApi(env);
  try {
    if (body.decision === "deny") {
      const denied = await api.denyConsent(request, body.handle);
      denied.headers.delete("location");
      return Response.json({ redirectTo: denied.redirectTo }, { headers: denied.headers });
    }
    const approved = await api.approveConsent(request, body.handle, { scope: [MCP_SCOPE, "offline_access"] });
    const { redirectTo } = await api.completeAuthorization({
      request: approved.request,
      userId: actor.userId,
      metadata: {},
      scope: approved.request.scope.length ? approved.request.scope : [MCP_SCOPE],
      props: { userId: actor.userId },
    });
    approved.headers.delete("location");
    return Response.json({ redirectTo }, { headers: approved.headers });
  } catch (err) {
    if (err instanceof AuthorizationError) {
      return refuse(400, "bad_request", `${err.description ?? "This consent page expired."} Start connecting again.`);
    }
    throw err;
  }
}

/** `/oauth/*` and `/.well-known/oauth-*`: the library's endpoints, and our consent page. */
export async function oauthRoute(request: Request, env: Env, ctx: ExecutionContext, oauth: OAuthPair | null) {
  if (!oauth) return text(404, "OAuth needs https (or loopback http) on this origin; use an API token instead.");
  const path = new URL(request.url).pathname;
  if (path === "/oauth/authorize") {
    if (request.method === "GET") return showConsent(request, env, oauth);
    if (request.method === "POST") return decideConsent(request, env, oauth);
    return text(405, "GET or POST.");
  }
  if (path.startsWith("/.well-known/oauth-protected-resource")) {
    // Clients ask at the path-suffixed name (RFC 9728) or, older ones, at the bare one: one document.
    const url = new URL(request.url);
    url.pathname = "/.well-known/oauth-protected-resource/mcp";
    return oauth.resourceServer.fetch(new Request(url, request), env, ctx);
  }
  return oauth.authorizationServer.fetch(request, env, ctx);
}
