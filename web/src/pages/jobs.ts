// The jobs list: status filter, search, and pages through the API's cursor.

import { api, describe } from "../api";
import { h, notice, replace } from "../dom";
import { navigate, type PageContext } from "../router";
import { can } from "../session";
import type { JobList } from "../types";
import { jobTable } from "./jobrows";

const STATUSES = ["pending", "running", "cancelling", "completed", "failed", "cancelled"];
const PAGE_SIZE = 20;

export function jobsPage(root: HTMLElement, _params: string[], context: PageContext): void {
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const status = h(
    "select",
    { id: "status-filter", name: "status" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((value) => h("option", { value, selected: query.get("status") === value }, value)),
  );
  const search = h("input", { id: "job-search", type: "search", name: "search", placeholder: "name or job_…" });
  const results = h("div", { id: "job-results", "aria-live": "polite" });
  const previous = h("button", { type: "button", class: "secondary", disabled: true }, "Previous page");
  const next = h("button", { type: "button", class: "secondary", disabled: true }, "Next page");
  // Cursors of the pages before the current one; the first page has none.
  const cursors: (string | null)[] = [];
  let cursor: string | null = null;
  let page: JobList = { jobs: [], cursor: null, has_more: false };

  const show = () => {
    const needle = search.value.trim().toLowerCase();
    const jobs = needle
      ? page.jobs.filter((job) => job.id.toLowerCase().includes(needle) || job.display_name.toLowerCase().includes(needle))
      : page.jobs;
    replace(results, jobTable("Jobs", jobs, needle ? "No job on this page matches." : "No jobs."));
    previous.disabled = cursors.length === 0;
    next.disabled = !page.has_more;
  };
  const load = async () => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status.value) params.set("status", status.value);
    if (cursor) params.set("cursor", cursor);
    try {
      page = await api<JobList>(`/v1/audio/transcriptions?${params}`, { signal: context.signal });
      show();
    } catch (error) {
      if (!context.signal.aborted) replace(results, notice("error", describe(error)));
    }
  };
  status.addEventListener("change", () => {
    cursors.length = 0;
    cursor = null;
    void load();
  });
  search.addEventListener("input", show);
  search.addEventListener("keydown", (event) => {
    const id = search.value.trim();
    if (event.key === "Enter" && /^job_[A-Za-z0-9]+$/.test(id)) navigate(`/jobs/${id}`);
  });
  next.addEventListener("click", () => {
    cursors.push(cursor);
    cursor = page.cursor;
    void load();
  });
  previous.addEventListener("click", () => {
    cursor = cursors.pop() ?? null;
    void load();
  });

  root.append(
    h("div", { class: "title-row" }, h("h1", {}, "Jobs"), can("jobs:write") ? h("a", { class: "button", href: "#/jobs/new" }, "New job") : null),
    h(
      "form",
      { class: "filters", role: "search", onsubmit: (event: Event) => event.preventDefault() },
      h("label", { for: "status-filter" }, "Status"),
      status,
      h("label", { for: "job-search" }, "Search this page"),
      search,
    ),
    results,
    h("div", { class: "pager" }, previous, next),
  );
  context.every(5000, async () => {
    await load();
  });
}
