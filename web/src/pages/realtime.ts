// Realtime transcription needs the server's streaming WebSocket. This page says honestly
// whether the server offers it (its OpenAPI document lists every route it has).

import { api, describe } from "../api";
import { h, notice } from "../dom";

const STREAM_PATH = "/v1/audio/transcriptions/stream";

export async function realtimePage(root: HTMLElement): Promise<void> {
  root.append(h("h1", {}, "Realtime"));
  try {
    const document = await api<{ paths: Record<string, unknown> }>("/openapi.json");
    if (STREAM_PATH in document.paths) {
      root.append(
        notice(
          "info",
          "This server offers realtime transcription over WebSocket, but this version of the console has no microphone page yet.",
        ),
      );
    } else {
      root.append(
        h(
          "div",
          { class: "card", id: "realtime-unavailable" },
          h("p", {}, h("strong", {}, "Realtime transcription is not available on this server.")),
          h("p", {}, `The server has no streaming endpoint (${STREAM_PATH}); live microphone transcription and the session list appear here once it does.`),
        ),
      );
    }
  } catch (error) {
    root.append(notice("error", describe(error)));
  }
}
