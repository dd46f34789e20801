// Webhooks: create (secret shown once), edit, rotate the secret, the delivery log and retries.

import { actionButton, actionForm, fill } from "../actions";
import { api, describe } from "../api";
import { badge, h, notice, replace, table } from "../dom";
import { when } from "../format";
import { navigate } from "../router";
import type { Delivery, Webhook } from "../types";
import { secretBox } from "./secret";

const EVENTS = ["transcription.completed", "transcription.failed", "transcription.cancelled"];

interface EventBox {
  event: string;
  input: HTMLInputElement;
}

function eventBoxes(prefix: string, checked: string[]): EventBox[] {
  return EVENTS.map((event) => ({
    event,
    input: h("input", { type: "checkbox", id: `${prefix}-${event}`, value: event, checked: checked.includes(event) }),
  }));
}

function chosen(boxes: EventBox[]): string[] {
  return boxes.filter((box) => box.input.checked).map((box) => box.event);
}

/** URL, description and events: the fields both forms share. */
function webhookFields(url: HTMLInputElement, description: HTMLInputElement, boxes: EventBox[]): HTMLElement[] {
  return [
    h("div", { class: "field" }, h("label", { for: url.id }, "URL"), url),
    h("div", { class: "field" }, h("label", { for: description.id }, "Description"), description),
    h(
      "fieldset",
      {},
      h("legend", {}, "Events"),
      boxes.map((box) => h("div", { class: "check" }, box.input, h("label", { for: box.input.id }, box.event))),
    ),
  ];
}

export async function webhooksPage(root: HTMLElement): Promise<void> {
  const list = h("div", { id: "webhook-list" });
  const message = h("div", { "aria-live": "polite" });
  const created = h("div", {});
  const url = h("input", { id: "webhook-url", type: "url", required: true, placeholder: "https://example.com/hooks/dalston" });
  const description = h("input", { id: "webhook-description", maxlength: 255 });
  const boxes = eventBoxes("new", EVENTS);

  const refresh = () =>
    fill(list, async () => {
      const { webhooks } = await api<{ webhooks: Webhook[] }>("/v1/webhooks");
      return table(
        "Webhooks",
        ["URL", "Events", "State", "Failures in a row", "Created"],
        webhooks.map((webhook) => [
          h("a", { href: `#/webhooks/${webhook.id}` }, webhook.url),
          webhook.events.join(", "),
          badge(webhook.active ? "active" : "disabled"),
          String(webhook.consecutive_failures),
          when(webhook.created_at),
        ]),
        "No webhooks.",
      );
    });

  const form = actionForm(
    message,
    async () => {
      const webhook = await api<Webhook>("/v1/webhooks", {
        method: "POST",
        body: { url: url.value.trim(), events: chosen(boxes), description: description.value.trim() || undefined },
      });
      replace(created, secretBox(`The signing secret of ${webhook.url}:`, webhook.secret ?? "", "webhook-secret"));
      url.value = "";
      description.value = "";
      await refresh();
    },
    h("h2", {}, "Register a webhook"),
    webhookFields(url, description, boxes),
    h("button", { type: "submit" }, "Register"),
  );
  root.append(h("h1", {}, "Webhooks"), created, message, form, h("h2", {}, "Registered"), list);
  await refresh();
}

export async function webhookPage(root: HTMLElement, [webhookId]: string[]): Promise<void> {
  const message = h("div", { "aria-live": "polite" });
  const secret = h("div", {});
  const deliveries = h("div", { id: "delivery-list" });
  let webhook: Webhook;
  try {
    webhook = await api<Webhook>(`/v1/webhooks/${webhookId}`);
  } catch (error) {
    root.append(h("h1", {}, webhookId), notice("error", describe(error)));
    return;
  }
  const url = h("input", { id: "edit-url", type: "url", required: true, value: webhook.url });
  const description = h("input", { id: "edit-description", maxlength: 255, value: webhook.description ?? "" });
  const active = h("input", { id: "edit-active", type: "checkbox", checked: webhook.active });
  const boxes = eventBoxes("edit", webhook.events);
  const path = `/v1/webhooks/${webhook.id}`;

  const retry = (delivery: Delivery) =>
    actionButton(
      "Retry",
      message,
      async () => {
        await api(`${path}/deliveries/${delivery.id}/retry`, { method: "POST" });
        await refreshDeliveries();
        return "The delivery is queued again.";
      },
      { kind: "secondary" },
    );
  const refreshDeliveries = () =>
    fill(deliveries, async () => {
      const { deliveries: rows } = await api<{ deliveries: Delivery[] }>(`${path}/deliveries`);
      return table(
        "Deliveries",
        ["Event", "Job", "Status", "Attempts", "Last answer", "Next attempt", "Created", ""],
        rows.map((delivery) => [
          delivery.event,
          delivery.job_id ? h("a", { href: `#/jobs/${delivery.job_id}` }, delivery.job_id) : "–",
          badge(delivery.status),
          String(delivery.attempts),
          delivery.last_error ?? (delivery.last_status_code === null ? "–" : `HTTP ${delivery.last_status_code}`),
          when(delivery.next_attempt_at),
          when(delivery.created_at),
          delivery.status === "pending" ? "" : retry(delivery),
        ]),
        "Nothing delivered yet.",
      );
    });

  const form = actionForm(
    message,
    async () => {
      webhook = await api<Webhook>(path, {
        method: "PATCH",
        body: { url: url.value.trim(), description: description.value.trim(), active: active.checked, events: chosen(boxes) },
      });
      return "Saved.";
    },
    h("h2", {}, "Settings"),
    webhookFields(url, description, boxes),
    h("div", { class: "check" }, active, h("label", { for: "edit-active" }, "Active (re-enabling forgets earlier failures)")),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Save"),
      actionButton(
        "Rotate secret",
        message,
        async () => {
          if (!confirm("Replace the signing secret? Receivers must switch to the new one.")) return;
          const rotated = await api<Webhook>(`${path}/rotate-secret`, { method: "POST" });
          replace(secret, secretBox("The new signing secret:", rotated.secret ?? "", "webhook-secret"));
        },
        { kind: "secondary" },
      ),
      actionButton(
        "Delete",
        message,
        async () => {
          if (!confirm(`Delete the webhook ${webhook.url} and its delivery log?`)) return;
          await api(path, { method: "DELETE" });
          navigate("/webhooks");
        },
        { kind: "danger" },
      ),
    ),
  );
  root.append(
    h("p", {}, h("a", { href: "#/webhooks" }, "← Webhooks")),
    h("h1", {}, "Webhook"),
    secret,
    message,
    form,
    h(
      "section",
      { class: "card" },
      h("div", { class: "title-row" }, h("h2", {}, "Deliveries"), h("button", { type: "button", class: "secondary", onclick: () => void refreshDeliveries() }, "Refresh")),
      deliveries,
    ),
  );
  await refreshDeliveries();
}
