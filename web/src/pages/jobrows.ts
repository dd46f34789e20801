// Job rows shared by the dashboard and the jobs list.

import { badge, h, table } from "../dom";
import { duration, when } from "../format";
import type { JobSummary } from "../types";

export function jobLink(job: JobSummary): HTMLElement {
  return h("a", { href: `#/jobs/${job.id}` }, job.display_name || job.id);
}

export function jobTable(caption: string, jobs: JobSummary[], empty: string): HTMLElement {
  return table(
    caption,
    ["Job", "Status", "Model", "Audio", "Created", "Error"],
    jobs.map((job) => [
      jobLink(job),
      badge(job.status),
      job.model ?? "default",
      job.audio_duration_seconds === null ? "–" : duration(job.audio_duration_seconds * 1000),
      when(job.created_at),
      job.error ? h("span", { class: "error-text" }, job.error) : "",
    ]),
    empty,
  );
}
