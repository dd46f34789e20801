// What every page does with the API: fill a container with what a call returns, and run a
// user's action with its outcome shown in a message area. Failures show the server's reason.

import { describe } from "./api";
import { type Child, h, notice, replace } from "./dom";

/** Replaces `container`'s content with what `render` builds, or with the reason it failed. */
export async function fill(container: HTMLElement, render: () => Promise<Child>): Promise<void> {
  try {
    replace(container, await render());
  } catch (error) {
    replace(container, notice("error", describe(error)));
  }
}

/** Runs `work`; a returned text is shown as a success, a failure as an alert, in `message`. */
export async function act(message: HTMLElement, work: () => Promise<string | void>): Promise<void> {
  message.replaceChildren();
  try {
    const done = await work();
    if (done) replace(message, notice("success", done));
  } catch (error) {
    replace(message, notice("error", describe(error)));
  }
}

/** A button running `work` through [`act`]. */
export function actionButton(
  label: string,
  message: HTMLElement,
  work: () => Promise<string | void>,
  options: { kind?: "secondary" | "danger"; ariaLabel?: string; disabled?: boolean } = {},
): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      class: options.kind ?? null,
      "aria-label": options.ariaLabel ?? null,
      disabled: options.disabled ?? false,
      onclick: () => void act(message, work),
    },
    label,
  );
}

/** A form whose submission runs `work` through [`act`]. */
export function actionForm(message: HTMLElement, work: () => Promise<string | void>, ...children: Child[]): HTMLFormElement {
  return h(
    "form",
    {
      class: "card",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(message, work);
      },
    },
    ...children,
  );
}
