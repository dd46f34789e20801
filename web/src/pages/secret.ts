// A secret shown once (new API key, webhook signing secret), with a copy button.

import { h } from "../dom";

export function secretBox(title: string, secret: string, id: string): HTMLElement {
  const box: HTMLElement = h(
    "div",
    { class: "card secret", role: "status", id },
    h("p", {}, h("strong", {}, title), " It is shown only this once; keep it now."),
    h("code", { class: "secret-value" }, secret),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: (event: Event) => {
            const button = event.currentTarget as HTMLButtonElement;
            navigator.clipboard?.writeText(secret).then(
              () => (button.textContent = "Copied"),
              () => (button.textContent = "Copy failed: select the text"),
            );
          },
        },
        "Copy",
      ),
      h("button", { type: "button", class: "secondary", onclick: () => box.remove() }, "Done"),
    ),
  );
  return box;
}
