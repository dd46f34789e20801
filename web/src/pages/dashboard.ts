// The dashboard: queue per stage, engines and their heartbeats, jobs by status, error rate,
// running and recent jobs, realtime capacity. Refreshes every two seconds.

import { api, describe } from "../api";
import { h, notice, replace, table } from "../dom";
import { ago } from "../format";
import type { PageContext } from "../router";
import type { Dashboard, JobList } from "../types";
import { jobTable } from "./jobrows";

const REFRESH_MS = 2000;

export function dashboardPage(root: HTMLElement, _params: string[], context: PageContext): void {
  const body = h("div", { class: "dashboard" });
  const updated = h("p", { class: "help", id: "dashboard-updated" });
  root.append(h("h1", {}, "Dashboard"), updated, body);
  context.every(REFRESH_MS, async () => {
    try {
      const [dashboard, running, recent] = await Promise.all([
        api<Dashboard>("/v1/console/dashboard", { signal: context.signal }),
        api<JobList>("/v1/audio/transcriptions?status=running&limit=10", { signal: context.signal }),
        api<JobList>("/v1/audio/transcriptions?limit=10", { signal: context.signal }),
      ]);
      replace(body, ...view(dashboard, running, recent));
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
    } catch (error) {
      if (context.signal.aborted) return false;
      replace(body, notice("error", describe(error)));
    }
    return true;
  });
}

function stat(label: string, value: string | number, id: string): HTMLElement {
  return h("div", { class: "stat", id }, h("span", { class: "stat-value" }, String(value)), h("span", { class: "stat-label" }, label));
}

function view(dashboard: Dashboard, running: JobList, recent: JobList): HTMLElement[] {
  const count = (status: string) => dashboard.jobs[status] ?? 0;
  const rate = dashboard.error_rate;
  const rateText = rate.rate === null ? "–" : `${(rate.rate * 100).toFixed(1)} %`;
  const realtime = dashboard.realtime;
  return [
    h(
      "section",
      { class: "stats", "aria-label": "Jobs" },
      stat("pending", count("pending"), "stat-pending"),
      stat("running", count("running"), "stat-running"),
      stat("completed", count("completed"), "stat-completed"),
      stat("failed", count("failed"), "stat-failed"),
      stat(`error rate (last ${rate.finished} finished)`, rateText, "stat-error-rate"),
      stat(
        "realtime sessions",
        realtime ? `${realtime.active_sessions} / ${realtime.capacity}` : "not available",
        "stat-realtime",
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "queue-heading" },
      h("h2", { id: "queue-heading" }, "Queue by stage"),
      table(
        "Tasks waiting and running per stage",
        ["Stage", "Waiting", "Running"],
        dashboard.queue.map((row) => [row.stage, String(row.queued), String(row.running)]),
        "No stages.",
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "engines-heading" },
      h("h2", { id: "engines-heading" }, "Engines"),
      table(
        "Engines with their models and last heartbeat",
        ["Engine", "Stage", "Models", "Worker", "Last heartbeat"],
        dashboard.engines.map((engine) => [
          engine.engine_id,
          engine.stage,
          engine.models.length ? engine.models.join(", ") : "–",
          engine.worker_id,
          h("span", { class: engine.alive ? "alive" : "error-text" }, engine.alive ? ago(engine.last_heartbeat_at) : `not responding (${ago(engine.last_heartbeat_at)})`),
        ]),
        "No engines run in this server.",
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "running-heading" },
      h("h2", { id: "running-heading" }, "Running jobs"),
      jobTable("Running jobs", running.jobs, "Nothing is running."),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "recent-heading" },
      h("h2", { id: "recent-heading" }, "Recent jobs"),
      jobTable("Recent jobs", recent.jobs, "No jobs yet."),
    ),
    h("p", { class: "help" }, `Dalston ${dashboard.version}, up ${Math.round(dashboard.uptime_secs)} s.`),
  ];
}
