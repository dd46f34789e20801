// API keys: create with scopes (the secret is shown once), list, revoke.

import { actionButton, actionForm, fill } from "../actions";
import { api } from "../api";
import { badge, h, replace, table } from "../dom";
import { ago, when } from "../format";
import type { ApiKey } from "../types";
import { secretBox } from "./secret";

const SCOPES: [string, string][] = [
  ["jobs:read", "read jobs and transcripts"],
  ["jobs:write", "submit, cancel and delete jobs"],
  ["realtime", "realtime sessions"],
  ["webhooks", "manage webhooks"],
  ["admin", "everything, including keys"],
];
const DEFAULT_SCOPES = ["jobs:read", "jobs:write", "realtime"];

export async function keysPage(root: HTMLElement): Promise<void> {
  const list = h("div", { id: "key-list" });
  const message = h("div", { "aria-live": "polite" });
  const created = h("div", {});
  const name = h("input", { id: "key-name", name: "name", required: true, maxlength: 255 });
  const boxes = SCOPES.map(([scope, help]) => ({
    scope,
    input: h("input", { type: "checkbox", id: `scope-${scope}`, name: "scopes", value: scope, checked: DEFAULT_SCOPES.includes(scope) }),
    help,
  }));

  const revoke = (key: ApiKey) =>
    actionButton(
      "Revoke",
      message,
      async () => {
        if (!confirm(`Revoke the key "${key.name}"? Programs using it stop working at once.`)) return;
        await api(`/auth/keys/${key.id}`, { method: "DELETE" });
        await refresh();
        return `Revoked ${key.name}.`;
      },
      { kind: "danger", ariaLabel: `Revoke ${key.name}` },
    );
  const state = (key: ApiKey) =>
    key.is_revoked ? badge("revoked") : key.is_current ? h("span", {}, badge("active"), " (this session)") : badge("active");
  const refresh = () =>
    fill(list, async () => {
      const { keys } = await api<{ keys: ApiKey[] }>("/auth/keys");
      return table(
        "API keys",
        ["Name", "Prefix", "Scopes", "Created", "Last used", "State", ""],
        keys.map((key) => [
          key.name,
          h("code", {}, `${key.prefix}…`),
          key.scopes.join(", "),
          when(key.created_at),
          ago(key.last_used_at),
          state(key),
          key.is_revoked || key.is_current ? "" : revoke(key),
        ]),
        "No keys.",
      );
    });

  const form = actionForm(
    message,
    async () => {
      const scopes = boxes.filter((box) => box.input.checked).map((box) => box.scope);
      if (scopes.length === 0) throw new Error("Choose at least one scope.");
      const key = await api<ApiKey>("/auth/keys", { method: "POST", body: { name: name.value.trim(), scopes } });
      replace(created, secretBox(`The new key "${key.name}":`, key.key ?? "", "new-key-secret"));
      name.value = "";
      await refresh();
    },
    h("h2", {}, "Create a key"),
    h("div", { class: "field" }, h("label", { for: "key-name" }, "Name"), name),
    h(
      "fieldset",
      {},
      h("legend", {}, "Scopes"),
      boxes.map((box) => h("div", { class: "check" }, box.input, h("label", { for: box.input.id }, h("code", {}, box.scope), ` — ${box.help}`))),
    ),
    h("button", { type: "submit" }, "Create key"),
  );
  root.append(h("h1", {}, "API keys"), created, message, form, h("h2", {}, "Keys"), list);
  await refresh();
}
