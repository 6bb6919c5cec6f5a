import { jwtVerify, SignJWT } from "jose";
import { fromBase64 } from "./crypto.ts";

const ISSUER = "trellis";
const AUDIENCE = "trellis-api";
const ALG = "HS256";
export const ACCESS_TTL_S = 15 * 60;

const keys = new Map<string, Uint8Array>();
function key(secret: string): Uint8Array {
  let k = keys.get(secret);
  if (!k) {
    k = fromBase64(secret);
    if (k.length < 32) throw new Error("JWT_SECRET must be at least 32 bytes of base64");
    keys.set(secret, k);
  }
  return k;
}

/**
 * `fam` names the refresh-token family (the sign-in) the token was issued to, so signing out,
 * a reused refresh token or a password change ends this token too, and the sockets it opened.
 */
export function signAccessToken(secret: string, userId: string, familyId: string): Promise<string> {
  return new SignJWT({ fam: familyId })
    .setProtectedHeader({ alg: ALG, typ: "JWT" })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ACCESS_TTL_S}s`)
    .sign(key(secret));
}

/** The user and sign-in a token was issued to, or null for any token that is forged, expired, or not ours. */
export async function verifyAccessToken(
  secret: string,
  token: string,
): Promise<{ userId: string; familyId: string } | null> {
  try {
    const { payload } = await jwtVerify(token, key(secret), {
      algorithms: [ALG],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ["sub", "exp", "fam"],
    });
    if (!payload.sub || typeof payload.fam !== "string") return null;
    return { userId: payload.sub, familyId: payload.fam };
  } catch {
    return null;
  }
}
