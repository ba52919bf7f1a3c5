"""Measure whole Llama-3.1-8B engine steps on a GPU, for comparison with genmodel's step (docs/validation.md,
"Whole steps measured on an H200").

Runs where PyTorch and Triton see a CUDA GPU (not in CI: genmodel needs no GPU). It does not import genmodel; the
comparison is ``benchmarks/compare_device_steps.py``, run where genmodel is installed, on the JSON this writes.

The model is Llama-3.1-8B's shape (32 layers, hidden 4,096, 32 query heads over 8 KV heads of 128, SwiGLU FFN of
14,336, vocabulary 128,256) with random BF16 weights, one distinct tensor per projection and layer (16 GB: every
step streams them from HBM). A step is what a serving engine runs for one forward pass, written in plain PyTorch:

* embedding lookup; per layer: RMSNorm, the fused QKV projection, rotary embedding of Q and K, the new keys and
  values written to the KV cache, attention (``scaled_dot_product_attention``), the output projection and residual
  add, RMSNorm, the fused gate-up projection, SiLU times up, the down projection and residual add; final RMSNorm,
  the LM head (over every decoded sequence; over the last prompt token in prefill) and a greedy argmax;
* decode: ``batch`` sequences of one new token each over a contiguous KV cache of ``context`` tokens per sequence
  (the 4 query heads of a KV head attend as a group of 4 queries, so each key and value is read once);
* prefill: one sequence of S prompt tokens, causal attention over the prompt (no cached prefix).

Each step is timed four ways, each the median of ``triton.testing.do_bench`` (L2 flushed before each launch):
replayed from one captured CUDA graph (``all``: the device's own time for the step, no host in the way); the same
graph with only the GEMMs (``gemm``), only the attention kernels (``attention``) or only the remaining kernels
(``other``: norms, rotary, cache writes, activation, residual adds, copies, embedding, argmax) kept, the others'
outputs taken from preallocated buffers; and run eagerly (``eager``: PyTorch launching every kernel from Python, the
host's cost included). The CUDA kernels of one eager step are counted with the PyTorch profiler.

With ``--mixed`` it times continuous-batching steps instead (``mixed_step``): ``n`` decoding sequences over 1,024
cached tokens each and one new prompt of ``p`` tokens in one forward pass, their tokens through the linear layers
together, each kind's attention as above, the LM head over the n decodes and the prompt's last token.

Usage: python benchmarks/device_steps.py OUT.json [--mixed]   (``--tiny``: a small model on the CPU, to check it)
"""

from __future__ import annotations

import functools
import sys
import time

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's usual name
from device_common import graphed as cuda_graphed
from device_common import smi, write_result

TINY = "--tiny" in sys.argv
HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, VOCAB = ((256, 2, 8, 2, 32, 512, 1000) if TINY else
                                                          (4096, 32, 32, 8, 128, 14336, 128256))
GROUP = HEADS // KV_HEADS
Q, KV = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
DEVICE = torch.device("cpu" if TINY else "cuda")
DTYPE = torch.bfloat16
DECODE = [(1, 64), (4, 64)] if TINY else [(1, 1024), (8, 1024), (32, 1024), (64, 1024), (128, 1024), (256, 1024),
                                          (1, 8192), (32, 8192)]  # (batch, context tokens already cached)
PREFILL = [16, 64] if TINY else [512, 1024, 2048, 4096, 8192]  # prompt tokens of one sequence
MIXED_CONTEXT = 64 if TINY else 1024  # cached tokens of each decoding sequence in a mixed step
MIXED = [(2, 16)] if TINY else [(1, 512), (32, 512), (32, 2048), (128, 512), (128, 2048), (256, 256)]  # (n, p)
ALL, PARTS = frozenset({"gemm", "attention", "other"}), ("gemm", "attention", "other")
EPS = 1e-5
GQA = {"flash": TINY}  # whether the flash backend takes grouped queries (probed on the GPU by ``probe_gqa``)


def check_grouped_decode() -> float:
    """Relative error of the decode step's grouped attention (the 4 query heads of a KV head as 4 queries) against
    float32 attention with K and V repeated to every query head, on fresh random inputs."""
    b, c = 3, 300
    q, k, v = randn(b, HEADS, 1, HEAD_DIM), randn(b, KV_HEADS, c, HEAD_DIM), randn(b, KV_HEADS, c, HEAD_DIM)
    got = F.scaled_dot_product_attention(q.reshape(b, KV_HEADS, GROUP, HEAD_DIM), k, v).reshape(b, HEADS, 1, HEAD_DIM)
    ref = F.scaled_dot_product_attention(q.float(), k.float().repeat_interleave(GROUP, dim=1),
                                         v.float().repeat_interleave(GROUP, dim=1))
    return float((got.float() - ref).norm() / ref.norm())


def probe_gqa() -> str:
    """Try the flash backend with ``enable_gqa`` on a small causal case; sets GQA["flash"] and says what happened."""
    if TINY:
        return "cpu: math backend"
    from torch.nn.attention import SDPBackend, sdpa_kernel
    q, k = randn(1, HEADS, 256, HEAD_DIM), randn(1, KV_HEADS, 256, HEAD_DIM)
    try:
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            got = F.scaled_dot_product_attention(q, k, k, is_causal=True, enable_gqa=True)
        ref = F.scaled_dot_product_attention(q.float(), k.float().repeat_interleave(GROUP, dim=1),
                                             k.float().repeat_interleave(GROUP, dim=1), is_causal=True)
        err = float((got.float() - ref).norm() / ref.norm())
        GQA["flash"] = err < 2e-2
        return f"flash backend with enable_gqa: relative error {err:.1e}"
    except RuntimeError as exc:
        return f"flash backend refused enable_gqa ({str(exc)[:120]}); K and V repeated to every query head"


def randn(*shape, scale=1.0):
    return torch.randn(*shape, device=DEVICE, dtype=DTYPE) * scale


def weights() -> dict:
    layers = [{"qkv": randn(Q + 2 * KV, HIDDEN, scale=HIDDEN ** -0.5), "o": randn(HIDDEN, Q, scale=Q ** -0.5),
               "gate_up": randn(2 * FFN, HIDDEN, scale=HIDDEN ** -0.5), "down": randn(HIDDEN, FFN, scale=FFN ** -0.5),
               "norm1": 1.0 + 0.1 * randn(HIDDEN), "norm2": 1.0 + 0.1 * randn(HIDDEN)} for _ in range(LAYERS)]
    return {"layers": layers, "embedding": randn(VOCAB, HIDDEN), "lm_head": randn(VOCAB, HIDDEN, scale=HIDDEN ** -0.5),
            "norm": 1.0 + 0.1 * randn(HIDDEN)}


def rope_tables(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape [len(positions), 1, HEAD_DIM / 2] (Llama's base 500,000)."""
    inv = 500000.0 ** (-torch.arange(0, HEAD_DIM, 2, device=DEVICE, dtype=torch.float32) / HEAD_DIM)
    ang = positions.to(torch.float32)[:, None] * inv[None, :]
    return ang.cos().to(DTYPE)[:, None, :], ang.sin().to(DTYPE)[:, None, :]


class Step:
    """One forward step; ``parts`` says which kernel classes run (the others' outputs come from ``buffers``)."""

    def __init__(self, w: dict, parts: frozenset[str]):
        self.w, self.parts, self.buffers, self.logits = w, parts, {}, None

    def buffer(self, key, shape) -> torch.Tensor:
        if (key, shape) not in self.buffers:
            self.buffers[(key, shape)] = randn(*shape)
        return self.buffers[(key, shape)]

    def mm(self, a: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if "gemm" in self.parts:
            return a @ weight.t()
        return self.buffer("mm", (a.shape[0], weight.shape[0]))

    def other(self, name: str, fn, *args, shape=None):
        """An elementwise or copy kernel: run, or skipped (its first argument, or a buffer of ``shape``, stands in)."""
        if "other" in self.parts:
            return fn(*args)
        return args[0] if shape is None else self.buffer(name, shape)

    def attention(self, q, k, v, causal: bool) -> torch.Tensor:
        """SDPA of q [1 or B, heads, tokens, HEAD_DIM] over k, v of as many or fewer heads (grouped queries: the
        flash backend's GQA where it has it, else K and V copied out to every query head, counted here)."""
        if "attention" not in self.parts:
            return self.buffer("attention", tuple(q.shape))
        if k.shape[1] == q.shape[1]:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        if GQA["flash"]:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        group = q.shape[1] // k.shape[1]
        return F.scaled_dot_product_attention(q, k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1),
                                              is_causal=causal)


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding (rotate-half form) of x [tokens, heads, HEAD_DIM]; cos, sin [tokens or 1, 1, HEAD_DIM / 2]."""
    a, b = x[..., :HEAD_DIM // 2], x[..., HEAD_DIM // 2:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


def silu_mul(gu: torch.Tensor) -> torch.Tensor:
    return F.silu(gu[:, :FFN]) * gu[:, FFN:]


def norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return F.rms_norm(x, (HIDDEN,), weight, EPS)


def embed(st: Step, tokens) -> torch.Tensor:
    return st.other("embedding", lambda t: st.w["embedding"][t], tokens, shape=(tokens.shape[0], HIDDEN))


def qkv_rope(st: Step, layer: dict, x, cos, sin) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RMSNorm, the QKV projection and rotary embedding of Q and K: q [t, HEADS, HEAD_DIM], k and v [t, KV_HEADS,
    HEAD_DIM] for the t tokens of ``x``."""
    t = x.shape[0]
    qkv = st.mm(st.other("norm", norm, x, layer["norm1"]), layer["qkv"])
    q = st.other("rope_q", rope, qkv[:, :Q].view(t, HEADS, HEAD_DIM), cos, sin)
    k = st.other("rope_k", rope, qkv[:, Q:Q + KV].view(t, KV_HEADS, HEAD_DIM), cos, sin)
    return q, k, qkv[:, Q + KV:].view(t, KV_HEADS, HEAD_DIM)


def out_and_ffn(st: Step, layer: dict, x, o) -> torch.Tensor:
    """The output projection of the attention ``o`` [t, Q] and its residual add, then RMSNorm, the gate-up
    projection, SiLU times up, the down projection and its residual add."""
    x = st.other("residual", torch.add, x, st.mm(o, layer["o"]))
    gu = st.mm(st.other("norm", norm, x, layer["norm2"]), layer["gate_up"])
    return st.other("residual", torch.add, x, st.mm(st.other("act", silu_mul, gu, shape=(x.shape[0], FFN)),
                                                    layer["down"]))


def head(st: Step, x) -> torch.Tensor:
    """Final RMSNorm, the LM head over the rows of ``x`` (kept in ``st.logits``) and a greedy argmax."""
    st.logits = logits = st.mm(st.other("norm", norm, x, st.w["norm"]), st.w["lm_head"])
    return st.other("argmax", lambda t: t.argmax(dim=-1), logits, shape=(x.shape[0],))


def decode_step(st: Step, tokens, caches, cos, sin, context: int) -> torch.Tensor:
    """``tokens`` [B]; ``caches`` per layer (K, V) of [B, KV_HEADS, context + 1, HEAD_DIM]; writes position
    ``context``; returns the next tokens [B]."""
    b = tokens.shape[0]
    x = embed(st, tokens)
    for layer, (kc, vc) in zip(st.w["layers"], caches, strict=True):
        q, k, v = qkv_rope(st, layer, x, cos, sin)
        st.other("cache_k", kc[:, :, context].copy_, k)
        st.other("cache_v", vc[:, :, context].copy_, v)
        o = st.attention(q.reshape(b, KV_HEADS, GROUP, HEAD_DIM), kc, vc, causal=False)
        x = out_and_ffn(st, layer, x, o.reshape(b, Q))
    return head(st, x)


def prefill_step(st: Step, tokens, caches, cos, sin) -> torch.Tensor:
    """``tokens`` [S] of one sequence; fills positions 0 .. S-1 of ``caches`` (per layer K, V of [1, KV_HEADS, S,
    HEAD_DIM]); returns the first generated token [1]."""
    s = tokens.shape[0]
    x = embed(st, tokens)
    for layer, (kc, vc) in zip(st.w["layers"], caches, strict=True):
        q, k, v = qkv_rope(st, layer, x, cos, sin)
        st.other("cache_k", kc[0].copy_, k.transpose(0, 1))
        st.other("cache_v", vc[0].copy_, v.transpose(0, 1))
        o = st.attention(q.transpose(0, 1).unsqueeze(0), kc, vc, causal=True)
        o = st.other("attn_out_copy", lambda t: t[0].transpose(0, 1).reshape(s, Q), o, shape=(s, Q))
        x = out_and_ffn(st, layer, x, o)
    return head(st, x[-1:])


def mixed_step(st: Step, tokens, dec_caches, pre_caches, cos, sin, rows, context: int) -> torch.Tensor:
    """A continuous-batching step: ``n`` decoding sequences' new tokens (``dec_caches`` per layer of [n, KV_HEADS,
    context + 1, HEAD_DIM], position ``context`` written) and one new prompt's ``p`` tokens (``pre_caches`` of [1,
    KV_HEADS, p, HEAD_DIM], filled) through the linear layers together (``tokens`` [n + p]: the decodes first);
    decode and prompt attention as in ``decode_step`` and ``prefill_step``; the LM head over the n decodes and the
    prompt's last token (``rows``). Returns n + 1 next tokens."""
    n, t = dec_caches[0][0].shape[0], tokens.shape[0]
    p = t - n
    x = embed(st, tokens)
    for layer, (kc, vc), (pk, pv) in zip(st.w["layers"], dec_caches, pre_caches, strict=True):
        q, k, v = qkv_rope(st, layer, x, cos, sin)
        st.other("cache_k", kc[:, :, context].copy_, k[:n])
        st.other("cache_v", vc[:, :, context].copy_, v[:n])
        st.other("prompt_k", pk[0].copy_, k[n:].transpose(0, 1))
        st.other("prompt_v", pv[0].copy_, v[n:].transpose(0, 1))
        o_dec = st.attention(q[:n].reshape(n, KV_HEADS, GROUP, HEAD_DIM), kc, vc, causal=False)
        o_pre = st.attention(q[n:].transpose(0, 1).unsqueeze(0), pk, pv, causal=True)
        o = st.other("attn_out_copy", lambda a, b: torch.cat([a.reshape(n, Q), b[0].transpose(0, 1).reshape(p, Q)]),
                     o_dec, o_pre, shape=(t, Q))
        x = out_and_ffn(st, layer, x, o)
    return head(st, st.other("rows", lambda a: a.index_select(0, rows), x, shape=(n + 1, HIDDEN)))


def check_mixed(w: dict, run, tokens, dec, pre, cos, sin, context: int) -> float:
    """Relative error between a mixed step's logits and those of ``decode_step`` and ``prefill_step`` run apart on
    the same tokens and caches (BF16 GEMMs of other heights round differently: 2e-2 on the H200)."""
    n = dec[0][0].shape[0]
    mixed = Step(w, ALL)
    run(mixed)
    apart = Step(w, ALL)
    decode_step(apart, tokens[:n], dec, cos[:n], sin[:n], context)
    logits = [apart.logits]
    prefill_step(apart, tokens[n:], pre, cos[n:], sin[n:])
    ref = torch.cat([*logits, apart.logits]).float()
    return float((mixed.logits.float() - ref).norm() / ref.norm())


def bench(fn) -> float:
    """Median seconds of ``fn``: do_bench on a GPU; on the CPU (``--tiny``) the median of a few wall-clock runs."""
    if TINY:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return sorted(times)[1]
    from triton.testing import do_bench
    return do_bench(fn, warmup=25, rep=400, return_mode="median") * 1e-3


def graphed(fn):
    """``fn`` captured in a CUDA graph and replayed (``device_common.graphed``); on the CPU (``--tiny``) ``fn``."""
    return fn if TINY else cuda_graphed(fn)


def kernel_count(fn) -> int | None:
    """CUDA kernels one eager call of ``fn`` launches (PyTorch profiler), None where it cannot count them."""
    if TINY:
        return None
    try:
        from torch.profiler import ProfilerActivity, profile
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize()
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
    except Exception as exc:
        print(f"kernel count failed: {exc!r}")
        return None


def measure(kind: str, w: dict, run, shape: dict, records: list) -> None:
    """Time the step ``run(Step)`` graphed with all its kernels and with each class alone, and eagerly; append one
    record."""
    rec = {"kind": kind, **shape}
    try:
        st = Step(w, ALL)
        full = functools.partial(run, st)
        out = full()
        if not TINY:
            torch.cuda.synchronize()
        rec["output_ok"] = bool(((out >= 0) & (out < VOCAB)).all() and torch.isfinite(st.logits).all())
        rec["eager_s"] = bench(full)
        rec["kernels"] = kernel_count(full)
        rec["all_s"] = bench(graphed(full))
        for part in PARTS:
            rec[f"{part}_s"] = bench(graphed(functools.partial(run, Step(w, frozenset({part})))))
    except Exception as exc:
        rec["error"] = repr(exc)[:400]
    records.append(rec)
    line = ", ".join(f"{k} {v * 1e3:.3f} ms" if k.endswith("_s") else f"{k} {v}" for k, v in rec.items()
                     if k not in ("kind",))
    print(f"{kind}: {line}", flush=True)
    if not TINY:
        torch.cuda.empty_cache()


def main() -> None:
    out_path = next((a for a in sys.argv[1:] if not a.startswith("--")), "device_steps.json")
    torch.manual_seed(0)
    meta = {"device": "cpu (--tiny)" if TINY else torch.cuda.get_device_name(), "torch": torch.__version__,
            "smi_before": "" if TINY else smi(), "model": "Llama-3.1-8B shape, random bf16 weights",
            "dims": dict(hidden=HIDDEN, layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS, head_dim=HEAD_DIM, ffn=FFN,
                         vocab=VOCAB)}
    start = time.time()
    meta["gqa"] = probe_gqa()
    meta["grouped_decode_relative_error"] = check_grouped_decode()
    print(meta["gqa"], "; grouped decode attention relative error", meta["grouped_decode_relative_error"], flush=True)
    w = weights()
    records: list = []
    if "--mixed" in sys.argv:  # continuous-batching steps only
        for n, p in MIXED:
            c = MIXED_CONTEXT
            dec = [(randn(n, KV_HEADS, c + 1, HEAD_DIM), randn(n, KV_HEADS, c + 1, HEAD_DIM)) for _ in range(LAYERS)]
            pre = [(randn(1, KV_HEADS, p, HEAD_DIM), randn(1, KV_HEADS, p, HEAD_DIM)) for _ in range(LAYERS)]
            cos, sin = rope_tables(torch.cat([torch.full((n,), c, device=DEVICE), torch.arange(p, device=DEVICE)]))
            rows = torch.cat([torch.arange(n, device=DEVICE), torch.full((1,), n + p - 1, device=DEVICE)])
            tokens = torch.randint(0, VOCAB, (n + p,), device=DEVICE)
            run = functools.partial(mixed_step, tokens=tokens, dec_caches=dec, pre_caches=pre, cos=cos, sin=sin,
                                    rows=rows, context=c)
            if "mixed_check" not in meta:  # the mixed step computes what the decode and prefill steps compute apart
                meta["mixed_check"] = check_mixed(w, run, tokens, dec, pre, cos, sin, c)
                print("mixed step against decode and prefill apart: relative error of logits", meta["mixed_check"])
            measure("mixed_step", w, run, {"batch": n, "context": c, "prompt_tokens": p}, records)
            del dec, pre, run
    for batch, context in ([] if "--mixed" in sys.argv else DECODE):
        caches = [(randn(batch, KV_HEADS, context + 1, HEAD_DIM), randn(batch, KV_HEADS, context + 1, HEAD_DIM))
                  for _ in range(LAYERS)]
        cos, sin = rope_tables(torch.full((1,), context, device=DEVICE))
        tokens = torch.randint(0, VOCAB, (batch,), device=DEVICE)
        run = functools.partial(decode_step, tokens=tokens, caches=caches, cos=cos, sin=sin, context=context)
        measure("decode_step", w, run, {"batch": batch, "context": context}, records)
        del caches, run
    for s in ([] if "--mixed" in sys.argv else PREFILL):
        caches = [(randn(1, KV_HEADS, s, HEAD_DIM), randn(1, KV_HEADS, s, HEAD_DIM)) for _ in range(LAYERS)]
        cos, sin = rope_tables(torch.arange(s, device=DEVICE))
        tokens = torch.randint(0, VOCAB, (s,), device=DEVICE)
        run = functools.partial(prefill_step, tokens=tokens, caches=caches, cos=cos, sin=sin)
        measure("prefill_step", w, run, {"batch": 1, "prompt_tokens": s}, records)
        del caches, run
    write_result(out_path, meta, records, start, "steps", gpu=not TINY)


if __name__ == "__main__":
    main()
