// One job: status and progress, the pipeline's stages (status, wait and run times, retries,
// errors), the transcript with its player, exports, and cancel / delete / re-run.

import { actionButton } from "../actions";
import { ApiError, api, apiBlob, describe, saveBlob, upload } from "../api";
import { badge, h, notice, replace, table } from "../dom";
import { bytes, duration, when } from "../format";
import { navigate, type PageContext } from "../router";
import { can } from "../session";
import type { Job, JobParameters, Stage } from "../types";
import { transcriptView } from "./transcript";

const TERMINAL = ["completed", "failed", "cancelled"];
const EXPORTS = ["srt", "vtt", "txt", "json"];

export function jobPage(root: HTMLElement, [jobId]: string[], context: PageContext): void {
  const header = h("div", {});
  const actions = h("div", { class: "actions", id: "job-actions" });
  const message = h("div", { "aria-live": "polite" });
  const stages = h("section", { class: "card", "aria-labelledby": "stages-heading" });
  const transcript = h("div", {});
  root.append(header, actions, message, stages, transcript);
  let shownTranscript = false;

  context.every(1000, async () => {
    let job: Job;
    let tasks: Stage[];
    try {
      [job, { tasks }] = await Promise.all([
        api<Job>(`/v1/audio/transcriptions/${jobId}`, { signal: context.signal }),
        api<{ tasks: Stage[] }>(`/v1/audio/transcriptions/${jobId}/tasks`, { signal: context.signal }),
      ]);
    } catch (error) {
      if (context.signal.aborted) return false;
      // A job that does not exist stops the refresh; anything else (a busy server) is retried.
      if (error instanceof ApiError && error.status === 404) {
        replace(header, h("h1", {}, jobId), notice("error", describe(error)));
        return false;
      }
      replace(message, notice("error", `Could not refresh the job: ${describe(error)}`));
      return true;
    }
    const terminal = TERMINAL.includes(job.status);
    replace(header, ...summary(job));
    replace(actions, ...buttons(job, terminal, message));
    replace(stages, h("h2", { id: "stages-heading" }, "Pipeline"), stageTable(tasks));
    if (job.status === "completed" && !shownTranscript) {
      shownTranscript = true;
      replace(transcript, transcriptView(job, context.signal));
    }
    return !terminal;
  });
}

function summary(job: Job): HTMLElement[] {
  const facts: [string, string][] = [
    ["Job id", job.id],
    ["Model", job.model ?? "server default"],
    ["Created", when(job.created_at)],
    ["Started", when(job.started_at)],
    ["Finished", when(job.completed_at)],
    ["Audio", job.audio.duration_seconds === null ? "–" : `${duration(job.audio.duration_seconds * 1000)}, ${job.audio.format ?? "?"}, ${job.audio.channels ?? "?"} ch, ${job.audio.sample_rate ?? "?"} Hz, ${bytes(job.audio.size_bytes)}`],
  ];
  if (job.language_code) facts.push(["Language", job.language_code]);
  return [
    h("h1", {}, job.display_name || job.id),
    h(
      "p",
      { class: "status-line" },
      h("span", { id: "job-status" }, badge(job.status)),
      " ",
      h("progress", { max: 100, value: job.progress, "aria-label": "Progress" }),
      ` ${job.progress} %`,
      job.current_stage ? ` · ${job.current_stage}` : "",
    ),
    job.error ? h("p", { class: "notice error", role: "alert", id: "job-error" }, h("strong", {}, "Failed: "), job.error) : h("span", {}),
    ...job.warnings.map((warning) => notice("info", warning)),
    h("dl", { class: "facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
  ];
}

function stageTable(tasks: Stage[]): HTMLElement {
  return table(
    "The job's stages",
    ["Stage", "Status", "Waited", "Ran", "Attempts", "Retries", "Error"],
    tasks.map((task) => [
      `${task.stage}${task.required ? "" : " (optional)"}`,
      badge(task.status),
      duration(task.wait_ms),
      task.status === "running" ? `${Math.round(task.progress * 100)} %` : duration(task.duration_ms),
      String(task.attempts),
      String(task.retries),
      task.error ? h("span", { class: "error-text" }, task.error) : "",
    ]),
    "No stages.",
  );
}

function buttons(job: Job, terminal: boolean, message: HTMLElement): HTMLElement[] {
  const jobPath = `/v1/audio/transcriptions/${job.id}`;
  const result: HTMLElement[] = [];
  if (job.status === "completed") {
    for (const format of EXPORTS) {
      result.push(
        actionButton(
          `Download ${format.toUpperCase()}`,
          message,
          async () => saveBlob(await apiBlob(`${jobPath}/export/${format}`), `${job.id}.${format}`),
          { kind: "secondary" },
        ),
      );
    }
  }
  if (!can("jobs:write")) return result;
  if (!terminal) {
    result.push(
      actionButton(
        "Cancel job",
        message,
        async () => {
          await api(`${jobPath}/cancel`, { method: "POST" });
          return "Cancellation requested.";
        },
        { kind: "danger", disabled: job.status === "cancelling" },
      ),
    );
    return result;
  }
  if (job.audio.available) {
    result.push(
      actionButton("Re-run", message, async () => {
        const audio = await apiBlob(`${jobPath}/audio`);
        const created = await upload<{ id: string }>("/v1/audio/transcriptions", rerunForm(job, audio), () => {});
        navigate(`/jobs/${created.id}`);
      }),
    );
  }
  result.push(
    actionButton(
      "Delete job",
      message,
      async () => {
        if (!confirm(`Delete job ${job.id} with its audio and transcript?`)) return;
        await api(jobPath, { method: "DELETE" });
        navigate("/jobs");
      },
      { kind: "danger" },
    ),
  );
  return result;
}

/** The same upload and options as the original job. */
function rerunForm(job: Job, audio: Blob): FormData {
  const parameters: JobParameters = job.parameters;
  const form = new FormData();
  form.append("file", audio, job.display_name || "audio");
  const fields: [string, string | number | null][] = [
    ["model", parameters.model],
    ["language", parameters.language],
    ["timestamps_granularity", parameters.timestamps_granularity],
    ["speaker_detection", parameters.speaker_detection],
    ["num_speakers", parameters.num_speakers],
    ["min_speakers", parameters.min_speakers],
    ["max_speakers", parameters.max_speakers],
    ["prompt", parameters.prompt],
    ["retention", parameters.retention_days],
    ["name", parameters.display_name],
    ["webhook_url", parameters.webhook_url],
  ];
  for (const [name, value] of fields) if (value !== null && value !== undefined && value !== "") form.append(name, String(value));
  if (parameters.vocabulary.length) form.append("vocabulary", JSON.stringify(parameters.vocabulary));
  return form;
}
