"""Reference speech probabilities and regions from the official silero-vad 6.2.3 package.

Computes, per 512-sample chunk, (1) "probabilities_safetensors": the network of the package's
tinygrad_model.py written out in numpy on the package's silero_vad_16k.safetensors (what
Dalston ports), and (2) "probabilities": the package's silero_vad.onnx with onnxruntime exactly as its OnnxWrapper does (512-sample
chunks, 64-sample context carried over, state carried over, the last chunk zero-padded), and the
package's own get_speech_timestamps_from_probs (pure Python, extracted from utils_vad.py so torch
is not needed) for the regions.
"""
import ast, json, sys, wave
import numpy as np
import onnxruntime

PKG = "/tmp/vadref/x/silero_vad"
src = open(f"{PKG}/utils_vad.py").read()
tree = ast.parse(src)
fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_speech_timestamps_from_probs")
ns = {"List": list, "Callable": object}
exec(compile(ast.Module(body=[fn], type_ignores=[]), "utils_vad.py", "exec"), ns)
timestamps_from_probs = ns["get_speech_timestamps_from_probs"]

opts = onnxruntime.SessionOptions(); opts.inter_op_num_threads = 1; opts.intra_op_num_threads = 1
session = onnxruntime.InferenceSession(f"{PKG}/data/silero_vad.onnx", providers=["CPUExecutionProvider"], sess_options=opts)

def read(path):
    w = wave.open(path)
    assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
    return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0

def probs(audio):
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, 64), dtype=np.float32)
    out = []
    for start in range(0, len(audio), 512):
        chunk = audio[start:start + 512]
        if len(chunk) < 512:
            chunk = np.pad(chunk, (0, 512 - len(chunk)))
        x = np.concatenate([context, chunk[None, :]], axis=1)
        p, state = session.run(None, {"input": x, "state": state, "sr": np.array(16000, dtype="int64")})
        context = x[:, -64:]
        out.append(float(p.item()))
    return out

import struct
raw = open(f"{PKG}/data/silero_vad_16k.safetensors", "rb").read()
header_len = struct.unpack("<Q", raw[:8])[0]
W = {}
for key, meta in json.loads(raw[8:8 + header_len]).items():
    if key != "__metadata__":
        start, end = meta["data_offsets"]
        W[key] = np.frombuffer(raw[8 + header_len + start:8 + header_len + end], dtype=np.float32).reshape(meta["shape"])

def conv(x, w, bias, stride, pad):
    x = np.pad(x, ((0, 0), (pad, pad)))
    k = w.shape[2]
    out = np.stack([np.einsum("oik,ik->o", w, x[:, t * stride:t * stride + k]) for t in range((x.shape[1] - k) // stride + 1)], axis=1)
    return out + (bias[:, None] if bias is not None else 0)

def sigmoid(x):
    return 1 / (1 + np.exp(-x))

def probs_safetensors(audio):
    """The package's tinygrad_model.py network, in numpy, on silero_vad_16k.safetensors."""
    audio = np.pad(audio, (0, (-len(audio)) % 512))
    context = np.zeros(64, np.float32); h = np.zeros(128, np.float32); c = np.zeros(128, np.float32); out = []
    for start in range(0, len(audio), 512):
        x = np.concatenate([context, audio[start:start + 512]]); context = x[-64:]
        f = conv(np.pad(x, (0, 64), mode="reflect")[None], W["stft_conv.weight"], None, 128, 0)
        m = np.sqrt(f[:129] ** 2 + f[129:] ** 2)
        for i, stride in ((1, 1), (2, 2), (3, 2), (4, 1)):
            m = np.maximum(conv(m, W[f"conv{i}.weight"], W[f"conv{i}.bias"], stride, 1), 0)
        g = W["lstm_cell.weight_ih"] @ m[:, 0] + W["lstm_cell.bias_ih"] + W["lstm_cell.weight_hh"] @ h + W["lstm_cell.bias_hh"]
        i_, f_, g_, o_ = np.split(g, 4)
        c = sigmoid(f_) * c + sigmoid(i_) * np.tanh(g_); h = sigmoid(o_) * np.tanh(c)
        out.append(float(sigmoid(W["final_conv.weight"][0, :, 0] @ np.maximum(h, 0) + W["final_conv.bias"][0])))
    return out

result = {"source": "silero-vad 6.2.3 (PyPI), silero_vad.onnx on onnxruntime 1.32.0, OnnxWrapper's chunking; regions from its get_speech_timestamps_from_probs", "clips": {}}
for name in sys.argv[1:]:
    audio = read(name)
    p = probs(audio)
    clip = {"samples": len(audio), "probabilities": [round(v, 6) for v in p], "probabilities_safetensors": [round(v, 6) for v in probs_safetensors(audio)]}
    clip["regions_default"] = timestamps_from_probs(p, audio_length_samples=len(audio))
    clip["regions_long"] = timestamps_from_probs(p, audio_length_samples=len(audio), min_speech_duration_ms=0, min_silence_duration_ms=500, speech_pad_ms=200, max_speech_duration_s=3.0)
    result["clips"][name.split("/")[-1]] = clip
json.dump(result, sys.stdout, indent=None, separators=(",", ":"))
