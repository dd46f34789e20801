"""The official `elevenlabs` Python SDK, unchanged, against a running Dalston.

Usage: python elevenlabs_sdk.py BASE_URL API_KEY AUDIO_FILE
Exits non-zero with a message on the first mismatch.
"""
import functools
import http.server
import json
import os
import sys
import threading

from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError

base_url, api_key, audio = sys.argv[1], sys.argv[2], sys.argv[3]
client = ElevenLabs(base_url=base_url, api_key=api_key)


def check(condition, message):
    if not condition:
        sys.exit(f"elevenlabs SDK check failed: {message}")


with open(audio, "rb") as f:
    result = client.speech_to_text.convert(
        model_id="scribe_v1",
        file=f,
        diarize=False,
        tag_audio_events=False,
        additional_formats=[{"format": "srt"}],
    )
check("country" in result.text.lower(), f"text: {result.text!r}")
check(result.language_code == "eng", f"language_code: {result.language_code!r}")
check(result.transcription_id, "transcription_id")
check(result.additional_formats and result.additional_formats[0].requested_format == "srt", "additional_formats")
words = [w for w in result.words if w.type == "word"]
check(words, "word timestamps were requested by default but none came back")
check("".join(w.text for w in result.words).strip() == " ".join(w.text for w in words), "spacing entries")
check(all(w.start is not None and w.end is not None and w.start <= w.end for w in words), "word times")

# Diarized, with a segmented_json export: one person speaks, so every word is speaker_0.
with open(audio, "rb") as f:
    diarized = client.speech_to_text.convert(
        model_id="scribe_v1",
        file=f,
        diarize=True,
        additional_formats=[{"format": "segmented_json", "max_segment_chars": 40}],
    )
diarized_words = [w for w in diarized.words if w.type == "word"]
check("country" in diarized.text.lower(), f"diarized text: {diarized.text!r}")
check(diarized_words and all(w.speaker_id == "speaker_0" for w in diarized_words),
      f"speaker ids: {sorted({w.speaker_id for w in diarized_words})}")
segmented = json.loads(diarized.additional_formats[0].content)
check(segmented["language_code"] == "eng", f"segmented_json language: {segmented.get('language_code')!r}")
check(len(segmented["segments"]) >= 3 and all(len(s["text"]) <= 40 for s in segmented["segments"]),
      f"segmented_json segments: {[s['text'] for s in segmented['segments']]}")
check(all(s["speaker_id"] == "speaker_0" for s in segmented["segments"]), "segmented_json speakers")

# The audio by URL instead of uploaded: a file server on loopback (which the test server allows).
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=os.path.dirname(os.path.abspath(audio)))
files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=files.serve_forever, daemon=True).start()
by_url = client.speech_to_text.convert(
    model_id="scribe_v1",
    source_url=f"http://127.0.0.1:{files.server_address[1]}/{os.path.basename(audio)}",
    # Accepted without effect (see the README): they must not be refused.
    tag_audio_events=True,
    no_verbatim=True,
    seed=42,
    temperature=0.0,
    numbers_format="digits",
)
files.shutdown()
check("ask not what your country can do for you" in by_url.text.lower().replace(",", ""),
      f"text from source_url: {by_url.text!r}")
check([w for w in by_url.words if w.type == "word"], "words from source_url")

fetched = client.speech_to_text.transcripts.get(result.transcription_id)
check(fetched.text == result.text, "transcripts.get")
client.speech_to_text.transcripts.delete(result.transcription_id)
try:
    client.speech_to_text.transcripts.get(result.transcription_id)
    check(False, "a deleted transcript was returned")
except ApiError as error:
    check(error.status_code == 404, f"deleted transcript status {error.status_code}")

print("elevenlabs SDK: all checks passed")
