"""Transcribes WAV files with faster-whisper and writes the benchmark JSON.

The faster-whisper side of scripts/bench-whisper: the same JSON shape as
`bench_whisper --json` (crates/models/src/bin/bench_whisper), so one Rust
comparison reads both. Run in its own process so the peak memory (VmHWM) is
this engine's alone, model load included.

usage: faster_whisper_run.py --model DIR --beam-size N --threads N --out JSON FILE.wav...
"""

import argparse
import json
import time
import wave

import ctranslate2
import faster_whisper
import numpy as np
from faster_whisper import WhisperModel


def read_wav(path):
    """16 kHz mono 16-bit PCM samples scaled to [-1, 1), as the Rust side reads them."""
    with wave.open(path, "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getframerate() != 16000:
            raise SystemExit(f"{path}: expected 16 kHz 16-bit PCM")
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        channels = wav.getnchannels()
    samples = frames.astype(np.float32).reshape(-1, channels).mean(axis=1)
    return samples / 32768.0


def peak_rss_kib():
    """This process's peak resident memory (VmHWM), in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    started = time.perf_counter()
    model = WhisperModel(
        args.model, device="cpu", compute_type="int8", cpu_threads=args.threads
    )
    load_secs = time.perf_counter() - started

    files = []
    for path in args.files:
        samples = read_wav(path)
        started = time.perf_counter()
        segments, _info = model.transcribe(
            samples,
            language="en",
            beam_size=args.beam_size,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        segments = list(segments)  # decoding happens while the generator is consumed
        wall_secs = time.perf_counter() - started
        words = [
            {"word": w.word, "start": w.start, "end": w.end}
            for s in segments
            for w in (s.words or [])
        ]
        files.append(
            {
                "path": path,
                "audio_secs": len(samples) / 16000.0,
                "wall_secs": wall_secs,
                "text": "".join(s.text for s in segments).strip(),
                "words": words,
            }
        )

    report = {
        "engine": "faster-whisper",
        "version": f"faster-whisper {faster_whisper.__version__}, "
        f"CTranslate2 {ctranslate2.__version__}, int8",
        "model": args.model,
        "threads": args.threads,
        "beam_size": args.beam_size,
        "load_secs": load_secs,
        "peak_rss_kib": peak_rss_kib(),
        "files": files,
    }
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(report, out)


if __name__ == "__main__":
    main()
