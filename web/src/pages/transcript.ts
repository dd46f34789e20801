// The transcript synchronised with an audio player: each word knows its time, a click on a word
// (or on a segment's time, for keyboard users) seeks there, and the word being spoken is
// highlighted while the audio plays.

import { apiBlob, describe } from "../api";
import { h, notice } from "../dom";
import { clock } from "../format";
import type { Job, Segment, Word } from "../types";

const SPEAKER_COLOURS = 8;

function speakerClass(speaker: string | null, speakers: string[]): string {
  if (!speaker) return "";
  return `speaker-${speakers.indexOf(speaker) % SPEAKER_COLOURS}`;
}

/** Index of the word playing at `time`, or -1 (words are in time order). */
export function wordAt(words: Word[], time: number): number {
  let low = 0;
  let high = words.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const word = words[middle];
    if (time < word.start) high = middle - 1;
    else if (time >= word.end) low = middle + 1;
    else return middle;
  }
  return -1;
}

export function transcriptView(job: Job, signal: AbortSignal): HTMLElement {
  const segments: Segment[] = job.segments ?? [];
  const speakers = (job.speakers ?? []).map((speaker) => speaker.id);
  const audio = h("audio", { id: "player", controls: true, preload: "auto" });
  const words: Word[] = [];
  const wordElements: HTMLElement[] = [];
  const seek = (time: number) => {
    audio.currentTime = time;
    if (audio.paused) void audio.play().catch(() => {});
  };

  const body = h(
    "div",
    { class: "transcript", id: "transcript", lang: job.language_code && job.language_code !== "und" ? job.language_code : null },
    segments.map((segment) => {
      const segmentWords = segment.words.length
        ? segment.words.map((word, index) => {
            const element = h("span", { class: "word", "data-start": word.start, "data-end": word.end, title: clock(word.start) }, word.text.trim());
            element.addEventListener("click", () => seek(word.start));
            words.push(word);
            wordElements.push(element);
            return index === 0 ? element : [" ", element];
          })
        : [segment.text];
      return h(
        "p",
        { class: `segment ${speakerClass(segment.speaker, speakers)}` },
        h("button", { type: "button", class: "timestamp", "aria-label": `Play from ${clock(segment.start)}`, onclick: () => seek(segment.start) }, clock(segment.start)),
        segment.speaker ? h("span", { class: "speaker" }, segment.speaker) : null,
        " ",
        segmentWords,
      );
    }),
  );

  let current = -1;
  const highlight = () => {
    const index = wordAt(words, audio.currentTime);
    if (index === current) return;
    if (current >= 0) {
      wordElements[current].classList.remove("current");
      wordElements[current].removeAttribute("aria-current");
    }
    current = index;
    if (index >= 0) {
      wordElements[index].classList.add("current");
      wordElements[index].setAttribute("aria-current", "true");
    }
  };
  // `timeupdate` fires only a few times a second; while playing, follow every frame.
  const follow = () => {
    highlight();
    if (!audio.paused && !signal.aborted) requestAnimationFrame(follow);
  };
  audio.addEventListener("play", () => requestAnimationFrame(follow));
  audio.addEventListener("seeked", highlight);
  audio.addEventListener("timeupdate", highlight);

  const status = h("div", { class: "player-status" });
  if (job.audio.available) {
    // The audio route needs the key, which an <audio src> cannot send: fetch it, play a blob.
    apiBlob(`/v1/audio/transcriptions/${job.id}/audio`)
      .then((blob) => {
        if (signal.aborted) return;
        const url = URL.createObjectURL(blob);
        audio.src = url;
        signal.addEventListener("abort", () => URL.revokeObjectURL(url));
      })
      .catch((error) => status.append(notice("error", `The audio could not be loaded: ${describe(error)}`)));
  } else {
    status.append(notice("info", "The original audio was deleted; the transcript remains."));
  }
  const speakerList = speakers.length
    ? h("p", { class: "speakers" }, "Speakers: ", speakers.map((id) => h("span", { class: `speaker ${speakerClass(id, speakers)}` }, id)))
    : null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "transcript-heading" },
    h("h2", { id: "transcript-heading" }, "Transcript"),
    h("div", { class: "player" }, audio, status),
    speakerList,
    words.length ? null : h("p", { class: "help" }, "This transcript has no word timings; click a segment's time to play from there."),
    body,
  );
}
