"""The official `openai` Python SDK, unchanged, against a running Dalston.

Usage: python openai_sdk.py BASE_URL API_KEY AUDIO_FILE
Exits non-zero with a message on the first mismatch.
"""
import sys

import openai
from openai.types.audio import TranscriptionDiarized, TranscriptionTextSegmentEvent
from openai.types.audio.transcription_diarized import UsageDuration

base_url, api_key, audio = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0)


def check(condition, message):
    if not condition:
        sys.exit(f"openai SDK check failed: {message}")


with open(audio, "rb") as f:
    plain = client.audio.transcriptions.create(model="whisper-1", file=f)
check("country" in plain.text.lower(), f"json text: {plain.text!r}")

with open(audio, "rb") as f:
    verbose = client.audio.transcriptions.create(
        model="whisper-1", file=f, response_format="verbose_json", timestamp_granularities=["segment"]
    )
check(verbose.language == "english", f"verbose language: {verbose.language!r}")
check(verbose.segments and verbose.segments[0].end > 0, "verbose segments")

with open(audio, "rb") as f:
    with_logprobs = client.audio.transcriptions.create(model="gpt-4o-transcribe", file=f, include=["logprobs"])
spelled = "".join(p.token for p in with_logprobs.logprobs or [])
check("ask not what your country can do for you" in spelled.lower().replace(",", ""), f"logprobs tokens: {spelled!r}")
check(all(p.logprob <= 0 and p.bytes == list(p.token.encode()) for p in with_logprobs.logprobs), "logprob entries")

try:
    with open(audio, "rb") as f:
        client.audio.transcriptions.create(model="whisper-1", file=f, timestamp_granularities=["word"])
    check(False, "timestamp_granularities without verbose_json was accepted")
except openai.BadRequestError as error:
    check(error.param == "timestamp_granularities", f"param: {error.param!r}")

with open(audio, "rb") as f:
    srt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="srt")
check(isinstance(srt, str) and srt.startswith("1\n"), f"srt: {srt!r}")

with open(audio, "rb") as f:
    vtt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="vtt")
check(isinstance(vtt, str) and vtt.startswith("WEBVTT") and "-->" in vtt and "country" in vtt.lower(), f"vtt: {vtt!r}")

with open(audio, "rb") as f:
    text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
check(isinstance(text, str) and "country" in text.lower() and not text.lstrip().startswith("{"), f"text: {text!r}")

with open(audio, "rb") as f:
    translation = client.audio.translations.create(model="whisper-1", file=f)
check("country" in translation.text.lower(), f"translation: {translation.text!r}")

with open(audio, "rb") as f:
    events = list(client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=f, stream=True))
check(events and events[-1].type == "transcript.text.done", f"stream events: {events}")
check(any(e.type == "transcript.text.delta" for e in events), "no delta events")
check("country" in events[-1].text.lower(), f"stream text: {events[-1].text!r}")

with open(audio, "rb") as f:
    diarized = client.audio.transcriptions.create(
        model="gpt-4o-transcribe-diarize", file=f, response_format="diarized_json", chunking_strategy="auto"
    )
check(isinstance(diarized, TranscriptionDiarized), f"diarized type: {type(diarized)}")
check(diarized.task == "transcribe" and diarized.duration > 10, f"diarized: {diarized!r}")
check("country" in diarized.text.lower(), f"diarized text: {diarized.text!r}")
check(diarized.segments, "no diarized segments")
check(
    all(s.type == "transcript.text.segment" and s.speaker == "A" and s.start <= s.end for s in diarized.segments),
    f"diarized segments: {diarized.segments}",
)
check(isinstance(diarized.usage, UsageDuration) and diarized.usage.seconds > 0, f"usage: {diarized.usage!r}")

with open(audio, "rb") as f:
    events = list(
        client.audio.transcriptions.create(
            model="gpt-4o-transcribe-diarize", file=f, response_format="diarized_json", stream=True
        )
    )
segments = [e for e in events if isinstance(e, TranscriptionTextSegmentEvent)]
check(segments and all(s.speaker == "A" for s in segments), f"diarized stream: {events}")
check(events[-1].type == "transcript.text.done", f"diarized stream end: {events[-1]}")

try:
    with open(audio, "rb") as f:
        client.audio.transcriptions.create(
            model="gpt-4o-transcribe-diarize",
            file=f,
            response_format="diarized_json",
            known_speaker_names=["agent"],
            known_speaker_references=["data:audio/wav;base64,AAAA"],
        )
    check(False, "known speakers were accepted")
except openai.BadRequestError as error:
    check(error.param == "known_speaker_names", f"known speakers error: {error.body}")

models = [m.id for m in client.models.list()]
check("whisper-1" in models, f"models: {models}")

try:
    with open(audio, "rb") as f:
        client.audio.transcriptions.create(model="whisper-1", file=f, response_format="xml")
    check(False, "an invalid response_format was accepted")
except openai.BadRequestError as error:
    check("response_format" in str(error), f"error message: {error}")

bad = openai.OpenAI(base_url=f"{base_url}/v1", api_key="dk_wrong", max_retries=0)
try:
    bad.models.list()
    check(False, "a wrong key was accepted")
except openai.AuthenticationError:
    pass

print("openai SDK: all checks passed")
