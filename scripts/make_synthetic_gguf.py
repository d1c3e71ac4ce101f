"""Write a GGUF with the shape of Llama-3-8B and random weights, to measure real generation
speed on a GPU box without downloading 8B weights.

The file has Llama-3-8B's architecture (llama: 32 layers, embedding 4096, feed-forward 14336,
32 heads, 8 KV heads, rope theta 500000, context 8192) with random Q4_0 weights (output in
Q6_K, as llama.cpp's own Q4_0 files have it; norms all 1.0), but the real tokenizer and chat
template of --source (the appliance's default generator), so prompts, chat formatting and
stop tokens behave as in the appliance. Its text is gibberish; its speed is real: every
layer does the work of Llama-3-8B's. One difference: the vocabulary is the source's (49152
for SmolLM2) instead of Llama-3's 128256, so the embedding and output matrices are smaller
and a token is a few percent cheaper than with the real model.

    .venv/bin/python scripts/make_synthetic_gguf.py OUT.gguf
        [--source models/generator/SmolLM2-135M-Instruct.Q4_1.gguf] [--layers 32]
        [--embedding 4096] [--feed-forward 14336] [--heads 32] [--kv-heads 8]
        [--context 8192] [--seed 0]

then, on the GPU box (about 4.5 GB of GPU memory):

    .venv/bin/python scripts/bench_batching.py --model OUT.gguf

Needs the gguf package (gguf-py, from llama.cpp). Tensors are generated and written one at a
time, so memory stays at a few hundred MB whatever the file size.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "models" / "generator" / "SmolLM2-135M-Instruct.Q4_1.gguf"

Q4_0 = gguf.GGMLQuantizationType.Q4_0
Q6_K = gguf.GGMLQuantizationType.Q6_K
Q8_0 = gguf.GGMLQuantizationType.Q8_0
F32 = gguf.GGMLQuantizationType.F32


def read_tokenizer(source: Path) -> list[tuple[str, object, gguf.GGUFValueType, object]]:
    """The source's tokenizer.* key/value pairs, as (key, value, type, array item type)."""
    reader = gguf.GGUFReader(source)
    pairs = []
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        pairs.append((key, field.contents(), vtype, sub_type))
    return pairs


def weight_scale(fan_in: int) -> float:
    """Block scale for weights of about 1/sqrt(fan_in): each layer's outputs stay near unit
    size, so 32 layers of random weights never reach inf or NaN, even in f16."""
    return 1.0 / math.sqrt(fan_in)


def random_q4_0(rng: np.random.Generator, rows: int, cols: int, std: float) -> np.ndarray:
    """Q4_0 blocks: an f16 scale d, then 32 random 4-bit values q (weight = d * (q - 8))."""
    blocks = rows * cols // 32
    data = np.empty((blocks, 18), dtype=np.uint8)
    # q - 8 over uniform nibbles has an RMS of about 4.64.
    d = rng.uniform(0.5, 1.5, blocks) * (std / 4.64)
    data[:, :2] = d.astype("<f2").view(np.uint8).reshape(blocks, 2)
    data[:, 2:] = np.frombuffer(rng.bytes(blocks * 16), dtype=np.uint8).reshape(blocks, 16)
    return data.reshape(rows, -1)


def random_q8_0(rng: np.random.Generator, rows: int, cols: int, std: float) -> np.ndarray:
    """Q8_0 blocks: an f16 scale d, then 32 random int8 values q (weight = d * q)."""
    blocks = rows * cols // 32
    data = np.empty((blocks, 34), dtype=np.uint8)
    d = rng.uniform(0.5, 1.5, blocks) * (std / 73.9)  # RMS of a uniform int8
    data[:, :2] = d.astype("<f2").view(np.uint8).reshape(blocks, 2)
    data[:, 2:] = np.frombuffer(rng.bytes(blocks * 32), dtype=np.uint8).reshape(blocks, 32)
    return data.reshape(rows, -1)


def random_q6_k(rng: np.random.Generator, rows: int, cols: int, std: float) -> np.ndarray:
    """Q6_K super-blocks of 256: 192 bytes of random 6-bit q, 16 int8 sub-scales s, an f16
    scale d (weight = d * s * (q - 32))."""
    blocks = rows * cols // 256
    data = np.empty((blocks, 210), dtype=np.uint8)
    data[:, :192] = np.frombuffer(rng.bytes(blocks * 192), dtype=np.uint8).reshape(blocks, 192)
    # Positive sub-scales of about 16 on average; q - 32 has an RMS of about 18.5.
    data[:, 192:208] = rng.integers(8, 25, (blocks, 16), dtype=np.uint8)
    d = rng.uniform(0.5, 1.5, blocks) * (std / (16 * 18.5))
    data[:, 208:] = d.astype("<f2").view(np.uint8).reshape(blocks, 2)
    return data.reshape(rows, -1)


RANDOM_BLOCKS = {Q4_0: random_q4_0, Q8_0: random_q8_0, Q6_K: random_q6_k}


def tensor_plan(args: argparse.Namespace, vocab: int) -> list[tuple[str, object, int, int]]:
    """(name, type, rows, cols) of every tensor, in llama.cpp's names; rows = outputs."""
    emb, ff = args.embedding, args.feed_forward
    kv = emb // args.heads * args.kv_heads
    # Q6_K rows must be whole 256-value super-blocks; otherwise fall back to Q8_0.
    output_type = Q6_K if emb % 256 == 0 else Q8_0
    plan = [("token_embd.weight", Q4_0, vocab, emb)]
    for i in range(args.layers):
        plan += [
            (f"blk.{i}.attn_norm.weight", F32, 1, emb),
            (f"blk.{i}.attn_q.weight", Q4_0, emb, emb),
            (f"blk.{i}.attn_k.weight", Q4_0, kv, emb),
            (f"blk.{i}.attn_v.weight", Q4_0, kv, emb),
            (f"blk.{i}.attn_output.weight", Q4_0, emb, emb),
            (f"blk.{i}.ffn_norm.weight", F32, 1, emb),
            (f"blk.{i}.ffn_gate.weight", Q4_0, ff, emb),
            (f"blk.{i}.ffn_up.weight", Q4_0, ff, emb),
            (f"blk.{i}.ffn_down.weight", Q4_0, emb, ff),
        ]
    plan += [("output_norm.weight", F32, 1, emb), ("output.weight", output_type, vocab, emb)]
    return plan


def byte_shape(qtype, rows: int, cols: int) -> tuple[int, ...]:
    if qtype == F32:
        return (cols * 4,)
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    return (rows, cols // block_size * type_size)


def make_tensor(rng: np.random.Generator, qtype, rows: int, cols: int) -> np.ndarray:
    if qtype == F32:
        return np.ones(cols, dtype=np.float32)  # RMS norm weights: plain normalisation
    return RANDOM_BLOCKS[qtype](rng, rows, cols, weight_scale(cols))


def check_shape(args: argparse.Namespace) -> None:
    if args.embedding % args.heads or args.heads % args.kv_heads:
        raise SystemExit("--embedding must divide by --heads, and --heads by --kv-heads")
    if args.embedding % 32 or args.feed_forward % 32:
        raise SystemExit("--embedding and --feed-forward must be multiples of 32 (Q4_0 blocks)")


def write_model(args: argparse.Namespace) -> tuple[int, int]:
    """Write the file; returns (its size in bytes, its parameter count)."""
    check_shape(args)
    tokenizer = read_tokenizer(args.source)
    vocab = next(len(value) for key, value, *_ in tokenizer if key == "tokenizer.ggml.tokens")
    head_dim = args.embedding // args.heads

    writer = gguf.GGUFWriter(args.out, "llama")
    writer.add_name("synthetic Llama-3-8B-shaped model (random weights)")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_block_count(args.layers)
    writer.add_context_length(args.context)
    writer.add_embedding_length(args.embedding)
    writer.add_feed_forward_length(args.feed_forward)
    writer.add_head_count(args.heads)
    writer.add_head_count_kv(args.kv_heads)
    writer.add_rope_freq_base(500000.0)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    for key, value, vtype, sub_type in tokenizer:
        writer.add_key_value(key, value, vtype, sub_type)

    plan = tensor_plan(args, vocab)
    for name, qtype, rows, cols in plan:
        shape = byte_shape(qtype, rows, cols)
        if qtype == F32:
            writer.add_tensor_info(name, (cols,), np.dtype(np.float32), cols * 4)
        else:
            writer.add_tensor_info(name, shape, np.dtype(np.uint8), math.prod(shape), qtype)

    # Header, metadata and tensor index first, then each tensor's data in turn: only one
    # tensor is ever in memory.
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(args.seed)
    for _, qtype, rows, cols in plan:
        writer.write_tensor_data(make_tensor(rng, qtype, rows, cols))
    writer.close()
    return args.out.stat().st_size, sum(rows * cols for _, _, rows, cols in plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the GGUF file to write")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="tokenizer from")
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--embedding", type=int, default=4096)
    parser.add_argument("--feed-forward", type=int, default=14336)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--context", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size, params = write_model(args)
    print(f"wrote {args.out}: {size / 1e9:.2f} GB ({size:,} bytes), {params:,} parameters")


if __name__ == "__main__":
    main()
