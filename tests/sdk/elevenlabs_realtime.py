"""The official `elevenlabs` Python SDK's realtime client, unchanged, against a running Dalston.

Usage: python elevenlabs_realtime.py BASE_URL API_KEY AUDIO_FILE (16 kHz mono 16-bit WAV)
Streams the file at real-time pace in 100 ms chunks, once with commit_strategy=manual (one
commit at the end) and once with commit_strategy=vad (the server commits on silence), and
checks the committed transcripts. Exits non-zero with a message on the first mismatch.
"""
import asyncio
import base64
import sys
import wave

from elevenlabs import ElevenLabs
from elevenlabs.realtime import AudioFormat, CommitStrategy, RealtimeEvents

base_url, api_key, audio = sys.argv[1], sys.argv[2], sys.argv[3]
client = ElevenLabs(base_url=base_url, api_key=api_key)
REFERENCE = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"
# Short utterances cut by the VAD are harder than the whole sentence: allow a few word errors.
MAX_WER = 0.2


def check(condition, message):
    if not condition:
        sys.exit(f"elevenlabs realtime SDK check failed: {message}")


def pcm_chunks():
    with wave.open(audio) as wav:
        check(wav.getframerate() == 16000 and wav.getnchannels() == 1, "the test file must be 16 kHz mono")
        pcm = wav.readframes(wav.getnframes())
    pcm += b"\0\0" * 16000 * 2  # two seconds of silence after the speech
    return [pcm[i : i + 3200] for i in range(0, len(pcm), 3200)]


def normalised(text):
    return "".join(c for c in text.lower() if c.isalnum() or c == " ")


def word_error_rate(reference, hypothesis):
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[len(hyp)] / len(ref)


async def session(strategy):
    connection = await client.speech_to_text.realtime.connect(
        {
            # An installed model's id selects it; ElevenLabs' own names get the default model.
            "model_id": "whisper-tiny.en",
            "audio_format": AudioFormat.PCM_16000,
            "sample_rate": 16000,
            "commit_strategy": strategy,
            "include_timestamps": True,
            "language_code": "en",
        }
    )
    started = asyncio.Event()
    committed, timestamps, partials, errors = [], [], [], []
    connection.on(RealtimeEvents.SESSION_STARTED, lambda data: started.set())
    connection.on(RealtimeEvents.PARTIAL_TRANSCRIPT, lambda data: partials.append(data["text"]))
    connection.on(RealtimeEvents.COMMITTED_TRANSCRIPT, lambda data: committed.append(data["text"]))
    connection.on(RealtimeEvents.COMMITTED_TRANSCRIPT_WITH_TIMESTAMPS, lambda data: timestamps.append(data))
    connection.on(RealtimeEvents.ERROR, lambda data: errors.append(data))
    await asyncio.wait_for(started.wait(), 60)
    for chunk in pcm_chunks():
        await connection.send({"audio_base_64": base64.b64encode(chunk).decode()})
        await asyncio.sleep(0.1)
    if strategy == CommitStrategy.MANUAL:
        await connection.commit()
    for _ in range(600):
        if "country" in normalised(" ".join(committed)).split()[-1:] and len(timestamps) == len(committed):
            break
        await asyncio.sleep(0.1)
    await connection.close()
    text = normalised(" ".join(committed))
    check(not errors, f"{strategy.value}: errors {errors}")
    wer = word_error_rate(REFERENCE, text)
    check(wer <= MAX_WER, f"{strategy.value}: WER {wer:.2f}, committed {committed!r}")
    check(partials, f"{strategy.value}: no partial transcripts")
    words = [word for message in timestamps for word in message["words"] if word["type"] == "word"]
    check(len(words) >= 15, f"{strategy.value}: {len(words)} timed words")
    check(all(word["start"] <= word["end"] for word in words), f"{strategy.value}: word times")
    if strategy == CommitStrategy.MANUAL:
        check(len(committed) == 1, f"manual: one commit, one transcript, got {committed!r}")
    print(f"{strategy.value}: {len(committed)} committed, {len(partials)} partials, {len(words)} words, WER {wer:.2f}")


async def main():
    await session(CommitStrategy.MANUAL)
    await session(CommitStrategy.VAD)


asyncio.run(main())
