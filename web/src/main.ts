// The console's shell: navigation (only what the key's scopes allow), sign-in guard, pages.

import "./style.css";
import { setUnauthorizedHandler } from "./api";
import { h, replace } from "./dom";
import { currentPath, navigate, route, setGuard, start } from "./router";
import { can, identity, restore, signOut } from "./session";
import { checkKey, loginPage } from "./pages/login";
import { dashboardPage } from "./pages/dashboard";
import { jobsPage } from "./pages/jobs";
import { submitPage } from "./pages/submit";
import { jobPage } from "./pages/job";
import { keysPage } from "./pages/keys";
import { webhookPage, webhooksPage } from "./pages/webhooks";
import { realtimePage } from "./pages/realtime";

const sections: { path: string; label: string; scope: string }[] = [
  { path: "/", label: "Dashboard", scope: "jobs:read" },
  { path: "/jobs", label: "Jobs", scope: "jobs:read" },
  { path: "/jobs/new", label: "New job", scope: "jobs:write" },
  { path: "/realtime", label: "Realtime", scope: "realtime" },
  { path: "/keys", label: "API keys", scope: "admin" },
  { path: "/webhooks", label: "Webhooks", scope: "webhooks" },
];

/** The scope a page needs, by path. */
function scopeFor(path: string): string | null {
  if (path === "/login") return null;
  if (path === "/jobs/new") return "jobs:write";
  if (path.startsWith("/jobs")) return "jobs:read";
  if (path.startsWith("/keys")) return "admin";
  if (path.startsWith("/webhooks")) return "webhooks";
  if (path.startsWith("/realtime")) return "realtime";
  return "jobs:read";
}

function renderShell(): void {
  const nav = document.getElementById("nav") as HTMLElement;
  const who = document.getElementById("who") as HTMLElement;
  const me = identity();
  if (!me) {
    replace(nav);
    replace(who);
    return;
  }
  const path = currentPath();
  const active = (section: string) =>
    section === "/" ? path === "/" : path === section || (section === "/jobs" ? /^\/jobs\/(?!new)/.test(path) : path.startsWith(`${section}/`));
  replace(
    nav,
    h(
      "ul",
      {},
      sections
        .filter((section) => can(section.scope))
        .map((section) =>
          h(
            "li",
            {},
            h("a", { href: `#${section.path}`, "aria-current": active(section.path) ? "page" : null }, section.label),
          ),
        ),
    ),
  );
  replace(
    who,
    h("span", { class: "key-name", title: me.scopes.join(", ") }, me.name, " ", h("small", {}, `(${me.scopes.join(", ")})`)),
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        onclick: () => {
          signOut();
          renderShell();
          navigate("/login");
        },
      },
      "Log out",
    ),
  );
}

/** The first page this key may see. */
function home(): string {
  const section = sections.find((candidate) => can(candidate.scope));
  return section?.path ?? "/keys";
}

setGuard((path) => {
  if (!identity()) return path === "/login" ? null : "/login";
  if (path === "/login") return home();
  const scope = scopeFor(path);
  if (scope && !can(scope)) return path === home() ? null : home();
  return null;
});

setUnauthorizedHandler(() => {
  if (identity()) {
    signOut();
    renderShell();
    navigate("/login");
  }
});

route(/^\/login$/, (root) =>
  loginPage(root, () => {
    renderShell();
    navigate(home());
  }),
);
route(/^\/$/, dashboardPage);
route(/^\/jobs$/, jobsPage);
route(/^\/jobs\/new$/, submitPage);
route(/^\/jobs\/(job_[A-Za-z0-9]+)$/, jobPage);
route(/^\/keys$/, keysPage);
route(/^\/webhooks$/, webhooksPage);
route(/^\/webhooks\/(wh_[A-Za-z0-9]+)$/, webhookPage);
route(/^\/realtime$/, realtimePage);

document.addEventListener("pagechange", () => {
  renderShell();
  const heading = document.querySelector("main h1");
  document.title = heading ? `${heading.textContent} · Dalston` : "Dalston console";
});

void restore(checkKey).then(() => {
  renderShell();
  start();
});

