// The signed-in key. The secret lives in sessionStorage only: it is gone when the tab closes,
// and never written to localStorage or a cookie.

import type { Me } from "./types";

const STORAGE_KEY = "dalston.console.key";
let me: Me | null = null;

export function currentKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function identity(): Me | null {
  return me;
}

/** Whether the signed-in key has `scope` (`admin` has every scope). */
export function can(scope: string): boolean {
  return !!me && (me.scopes.includes("admin") || me.scopes.includes(scope));
}

/** Checks `secret` against `/auth/me` and keeps it for this tab's session. */
export async function signIn(secret: string, check: (secret: string) => Promise<Me>): Promise<Me> {
  const identity = await check(secret);
  sessionStorage.setItem(STORAGE_KEY, secret);
  me = identity;
  return identity;
}

/** Restores the identity of a key kept from earlier in this tab's session. */
export async function restore(check: (secret: string) => Promise<Me>): Promise<Me | null> {
  const secret = currentKey();
  if (!secret) return null;
  try {
    me = await check(secret);
    return me;
  } catch {
    signOut();
    return null;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
  me = null;
}
