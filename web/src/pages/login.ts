// Sign in with an API key. The key is checked with `/auth/me`, whose scopes decide what the
// console shows.

import { api, describe } from "../api";
import { h, notice } from "../dom";
import { signIn } from "../session";
import type { Me } from "../types";

export function checkKey(secret: string): Promise<Me> {
  return api<Me>("/auth/me", { key: secret });
}

export function loginPage(root: HTMLElement, signedIn: () => void): void {
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
    placeholder: "dk_…",
    "aria-describedby": "api-key-help",
  });
  const message = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "card narrow",
      onsubmit: async (event: Event) => {
        event.preventDefault();
        message.replaceChildren();
        const secret = input.value.trim();
        try {
          await signIn(secret, checkKey);
          signedIn();
        } catch (error) {
          message.append(notice("error", `Sign-in failed: ${describe(error)}`));
          input.focus();
        }
      },
    },
    h("label", { for: "api-key" }, "API key"),
    input,
    h(
      "p",
      { id: "api-key-help", class: "help" },
      "The server wrote its first admin key to ",
      h("code", {}, "<data dir>/admin.key"),
      ". The key is kept in this browser tab only and forgotten when you log out or close the tab.",
    ),
    h("button", { type: "submit" }, "Sign in"),
    message,
  );
  root.append(h("h1", {}, "Sign in"), form);
  input.focus();
}
