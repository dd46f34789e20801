// Submit a job: file upload with progress and the native API's options.

import { api, describe, upload } from "../api";
import { h, notice } from "../dom";
import { navigate } from "../router";
import type { Model } from "../types";

function field(label: string, control: HTMLElement, help?: string): HTMLElement {
  const id = control.id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    help ? h("p", { class: "help", id: `${id}-help` }, help) : null,
  );
}

function select(id: string, options: [string, string][], selected?: string): HTMLSelectElement {
  return h(
    "select",
    { id, name: id },
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)),
  );
}

export async function submitPage(root: HTMLElement): Promise<void> {
  root.append(h("h1", {}, "New job"));
  let models: Model[] = [];
  try {
    models = (await api<{ data: Model[] }>("/v1/models")).data.filter((model) => !model.alias_of);
  } catch (error) {
    root.append(notice("error", `Could not list the models: ${describe(error)}`));
  }
  const file = h("input", { id: "file", name: "file", type: "file", accept: "audio/*,video/*", required: true });
  const model = select("model", [["auto", "server default"], ...models.map((m): [string, string] => [m.id, m.default ? `${m.id} (default)` : m.id])]);
  const language = h("input", { id: "language", name: "language", placeholder: "auto", maxlength: 8, "aria-describedby": "language-help" });
  const timestamps = select("timestamps_granularity", [["word", "words"], ["segment", "segments"], ["none", "none"]], "word");
  const speakers = select("speaker_detection", [["none", "none"], ["diarize", "diarize"], ["per_channel", "per channel"]]);
  const numSpeakers = h("input", { id: "num_speakers", name: "num_speakers", type: "number", min: 1, max: 32 });
  const minSpeakers = h("input", { id: "min_speakers", name: "min_speakers", type: "number", min: 1, max: 32 });
  const maxSpeakers = h("input", { id: "max_speakers", name: "max_speakers", type: "number", min: 1, max: 32 });
  const vocabulary = h("input", { id: "vocabulary", name: "vocabulary", placeholder: "Dalston, Whisper", "aria-describedby": "vocabulary-help" });
  const prompt = h("textarea", { id: "prompt", name: "prompt", rows: 2 });
  const retention = h("input", { id: "retention", name: "retention", type: "number", min: -1, max: 3650, "aria-describedby": "retention-help" });
  const name = h("input", { id: "name", name: "name", maxlength: 255, placeholder: "the file's name" });
  const webhook = h("input", { id: "webhook_url", name: "webhook_url", type: "url", placeholder: "https://…" });
  const progress = h("progress", { id: "upload-progress", max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
  const progressText = h("span", { id: "upload-progress-text", "aria-live": "polite" });
  const message = h("div", {});
  const submit = h("button", { type: "submit" }, "Submit");

  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event: Event) => {
        event.preventDefault();
        message.replaceChildren();
        const chosen = file.files?.[0];
        if (!chosen) return;
        const data = new FormData();
        data.append("file", chosen, chosen.name);
        const optional: [string, string][] = [
          ["model", model.value === "auto" ? "" : model.value],
          ["language", language.value.trim()],
          ["timestamps_granularity", timestamps.value],
          ["speaker_detection", speakers.value],
          ["num_speakers", numSpeakers.value],
          ["min_speakers", minSpeakers.value],
          ["max_speakers", maxSpeakers.value],
          ["prompt", prompt.value.trim()],
          ["retention", retention.value],
          ["name", name.value.trim()],
          ["webhook_url", webhook.value.trim()],
        ];
        for (const [key, value] of optional) if (value) data.append(key, value);
        const terms = vocabulary.value.split(",").map((term) => term.trim()).filter(Boolean);
        if (terms.length) data.append("vocabulary", JSON.stringify(terms));
        submit.disabled = true;
        progress.hidden = false;
        try {
          const created = await upload<{ id: string }>("/v1/audio/transcriptions", data, (fraction) => {
            progress.value = Math.round(fraction * 100);
            progressText.textContent = fraction < 1 ? `Uploading: ${Math.round(fraction * 100)} %` : "Uploaded; checking the audio…";
          });
          navigate(`/jobs/${created.id}`);
        } catch (error) {
          message.append(notice("error", `The job was not created: ${describe(error)}`));
          progressText.textContent = "";
          progress.hidden = true;
        } finally {
          submit.disabled = false;
        }
      },
    },
    field("Audio or video file", file),
    h(
      "div",
      { class: "grid" },
      field("Model", model),
      field("Language", language, "An ISO-639-1 code such as en; empty detects it."),
      field("Timestamps", timestamps),
      field("Speakers", speakers),
      field("Number of speakers", numSpeakers),
      field("At least", minSpeakers),
      field("At most", maxSpeakers),
      field("Retention (days)", retention, "0 deletes the audio when done, -1 keeps it; empty: server default."),
      field("Name", name),
      field("Webhook URL", webhook),
    ),
    field("Vocabulary", vocabulary, "Terms to recognise, separated by commas."),
    field("Prompt", prompt),
    h("div", { class: "actions" }, submit, progress, progressText),
    message,
  );
  root.append(form);
}
