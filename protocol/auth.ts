import { z } from "zod";
import { Name, Text } from "./common.ts";

export const Email = Text.trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ message: "must be a valid email address" }));

/** Length beats composition rules (NIST 800-63B): at least 10 characters, not all one character. */
export const Password = Text.min(10, "must be at least 10 characters")
  .max(200, "must be at most 200 characters")
  .refine((p) => new Set(p).size >= 4, "is too simple: use more different characters");

export const RegisterBody = z.object({ email: Email, password: Password, name: Name });
export type RegisterBody = z.infer<typeof RegisterBody>;

// Only hashed, never stored: a password set before the Unicode rule must still be accepted.
export const LoginBody = z.object({ email: Email, password: z.string().min(1).max(200) });
export type LoginBody = z.infer<typeof LoginBody>;

export const ChangePasswordBody = z.object({ currentPassword: z.string().min(1).max(200), newPassword: Password });
export type ChangePasswordBody = z.infer<typeof ChangePasswordBody>;

/** Browsers send the refresh token as an HttpOnly cookie; the CLI may send it in the body. */
export const RefreshBody = z.object({ refreshToken: Text.max(200).optional() });

export const User = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  color: z.string(),
  createdAt: z.number(),
});
export type User = z.infer<typeof User>;

export const AuthSession = z.object({
  user: User,
  accessToken: z.string(),
  /** Seconds until the access token expires. */
  expiresIn: z.number(),
  /** Returned for non-browser clients; browsers get it as a cookie too. */
  refreshToken: z.string(),
});
export type AuthSession = z.infer<typeof AuthSession>;

export const Config = z.object({ singleUser: z.boolean(), version: z.string() });
export type Config = z.infer<typeof Config>;

export const CreateTokenBody = z.object({ name: Name });
export const ApiToken = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.number(),
  lastUsedAt: z.number().nullable(),
});
export type ApiToken = z.infer<typeof ApiToken>;
export const CreatedApiToken = ApiToken.extend({ token: z.string() });
export type CreatedApiToken = z.infer<typeof CreatedApiToken>;
