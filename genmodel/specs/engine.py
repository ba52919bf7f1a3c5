"""``EngineSpec``: a serving engine (vLLM, TensorRT-LLM, SGLang, llama.cpp, Neuron, JetStream ...) as data.

Contract
--------
The serving software matters as much as the chip. An engine entry states, with its sources, what the engine adds
to the hardware's physics on every step:

* host work per engine step ``a + b x sequences`` (``step_overhead_s``, ``step_overhead_per_sequence_s``):
  scheduling, sampling over the vocabulary, detokenization, the Python or C++ loop around the kernels; a prefill
  step adds ``c`` (``prefill_overhead_s``): admitting the requests and setting up their context phase;
* the decode steps one scheduler pass serves (``scheduler_steps``, vLLM V0's multi-step scheduling): a decode step
  carries 1/``scheduler_steps`` of that host work;
* the gap between kernels (``kernel_overhead_s``): about 1-2 us where the engine replays captured CUDA graphs or
  compiled XLA programs, 4-10 us where it launches kernels one by one;
* the steps it replays captured graphs for (``graph_steps``: decode steps up to its largest captured batch only,
  running prompt steps eagerly: SGLang and ATOM by default; every step: vLLM's piecewise graphs; none: vLLM
  ``--enforce-eager``, SGLang ``--disable-cuda-graph``) and the host's time per kernel of a step it runs eagerly
  (``eager_launch_s``): the device cannot finish such a step before the host has issued its kernels, so the step
  lasts at least kernels x ``eager_launch_s`` (``genmodel.engine.step``); a decode step with more sequences than
  the largest captured batch (``decode_batch_buckets``, cut at the first of ``decode_graph_limits`` that applies:
  SGLang picks it by device memory and TP) runs eagerly too, unpadded. ``eager_variant`` gives a profile's copy
  with graphs off (the name ``NAME+eager``, ``genmodel.data.registry.get_engine``);
* shapes it pads to: the decode batch sizes it captures graphs for (vLLM, SGLang: a step with 3 sequences runs the
  4-sequence graph), and for compiled stacks prompt and batch buckets, whose padded shape is what the device
  computes: powers of two from ``min_prompt_bucket`` (XLA on TPU, Neuron), or powers of two up to a step and
  multiples of the step above it (``step``: Gaudi's bucketing, ``batch_bucket_step``, ``prompt_bucket_step``);
* on CPUs, whether its kernels use the matrix units (``cpu_matrix_units``: AMX/SME) or run on the vector units at
  the fp32 FMA peak (llama.cpp's ggml CPU backend);
* the relative quality of its fused attention, of its paged KV reads and of its weight-only-quantized GEMMs
  (``attention_scale``, ``kv_read_scale``, ``weight_only_scale``, multiplying the device's fractions; 1 = as good
  as the reference kernels), whether its FP16 GEMMs accumulate in FP16 (``fp16_accumulate``: on GeForce cards
  twice the FP32-accumulate rate the device lists), whether its weight-only GEMMs are matrix-vector kernels on
  the vector units (``weight_only_vector_ops_per_mac``: AutoAWQ's GEMV kernel, run once per token of a prompt too),
  and above how many rows they dequantize the whole matrix into a 16-bit copy before a dense GEMM
  (``dequantize_copy_above_rows``: ExLlama, ExLlamaV2, bitsandbytes' 4-bit path),
  a per-compute-unit ceiling on its own quantized GEMM kernels (``quantized_gemm_macs_per_unit_clock``:
  llama.cpp's MMQ on CUDA) and on the bytes its kernels stream from memory (``stream_bytes_per_unit_clock``:
  llama.cpp's CUDA kernels keep too few bytes in flight to reach an HBM device's bandwidth).

* its continuous-batching scheduler (genmodel.serving, docs/serving.md): the token budget of one step
  (``max_batch_tokens``; ``offline_batch_tokens`` for an offline run where it differs; per device
  ``max_batch_tokens_on`` where the engine picks it by device name), the running-sequence limit (``max_seqs``), both
  by device memory where the engine picks them so (``batch_defaults``), the KV page size (``kv_block_tokens``),
  whether prompt chunks ride in decode steps (``mixed_batches``; SGLang runs prefill batches apart by default),
  whether prompts are chunked at all (``chunked_prefill``) and whether a request is admitted only with KV room for
  its whole output (``kv_reserve_outputs``; TensorRT-LLM's GUARANTEED_NO_EVICT) or preempts and recomputes a
  request when a full cache leaves a decode no room (``kv_recompute_on_full``; vLLM's default).

* how it runs a prompt: in physical batches of at most ``prompt_ubatch_tokens`` tokens one after another (llama.cpp's
  n_ubatch, 512 by default: each pass reads the weights again and attends to the tokens before it), at most
  ``pipeline_copies`` of them in flight through a pipeline of stages (llama.cpp's 4 graph copies), and whether its
  attention is fused (``flash_attention``; without it the score matrix goes through memory, ``unfused_score_bytes``
  per score: llama.cpp with flash attention off).

* the kernels its DeepSeek modelling code launches beyond genmodel's rows (``mla_extra_kernels``, by row, for every
  layer of a model with MLA attention): SGLang 0.4 quantized activations for FP8 in kernels of their own and ran
  DeepSeek's rotary embedding and FP8 casts as dozens of small PyTorch ops, about 86 kernels a layer against
  genmodel's 24 (docs/formulas.md 5.2).

* whether its rows may inform a fit (``fittable``): false for a profile that knowingly lacks the engine's dominant
  cost, so that rows the model cannot represent do not move a device family's physical factors.

* the time a request spends in its HTTP server outside the engine steps (``request_latency_s``): parsing, chat
  template and tokenization, the hand-off to the engine process and the first token's way back. An HTTP client's
  TTFT and end-to-end latency hold it once; the engine's own timings and genmodel's estimates do not.

* whether it pads attention heads under tensor parallelism (``pads_heads``: Neuron gives each TP rank — one per
  NeuronCore, ``microarchitecture.tensor_parallel_ranks`` per device — whole heads, zero-filled, and at least one
  KV head), so a tp that does not divide the heads runs, at the padded cost; engines that do not pad refuse it.

Entries live in ``engines_db/`` (and in users' ``engines/`` folders) and carry a ``source``.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, Field

from genmodel.specs.quantities import Bytes, DisplayName, EntryName, FrozenSpec, Seconds

Fraction = float
# vLLM served over HTTP against the same engine in process, Llama-3.3-70B, batch 32, 128-token prompts: mean TTFT
# 231 ms offline, 235 ms online, "+4 ms ... from HTTP server + ZMQ latency" (tenstorrent/tt-inference-server issue
# 190, 2025-05-08). The one such measurement found; engines without their own take it.
REQUEST_LATENCY_S = 4e-3


# the largest figures an engine entry may hold: a step of at most 2**24 prompt and decode tokens (16M: a hundred
# times any engine's token budget) and at most 2**20 running sequences (a thousand times any engine's limit); a
# kernel-quality scale from 1% of the device's reference kernels
MAX_STEP_TOKENS, MAX_SEQS = 2**24, 2**20


class GraphLimit(FrozenSpec):
    """One rule of how an engine picks its largest captured decode batch: ``max_seqs`` on a device with less memory
    than ``memory_below_bytes`` (none: any) at tensor parallelism of at least ``tp_at_least``."""

    max_seqs: int = Field(ge=1, le=MAX_SEQS, description="The largest decode batch captured under this rule.")
    memory_below_bytes: Bytes | None = Field(
        None, description="The rule applies to devices with less memory than this (none: any device).")
    tp_at_least: int = Field(1, ge=1, le=2**20, description="The rule applies at this tensor parallelism or more.")


class BatchDefaults(FrozenSpec):
    """One rule of how an engine picks its default token budget and running-sequence limit by device (vLLM's
    ``get_batch_defaults``): on a device whose fastest memory holds at least ``memory_at_least_bytes`` and whose name
    contains none of ``names_except``, from release ``since_release`` on; a field left empty keeps the profile's own."""

    memory_at_least_bytes: Bytes = Field(description="The rule applies to devices with at least this much memory.")
    names_except: list[str] = Field(
        default_factory=list, description="... except devices whose name contains one of these (any case).")
    since_release: str | None = Field(
        None, pattern=r"^\d+\.\d+(\.\d+)?$", description="The engine release from which the rule applies, e.g. "
        "'0.28.0' (validation rows of older releases do not take it; none: every release).")
    max_batch_tokens: int | None = Field(None, ge=1, le=MAX_STEP_TOKENS,
                                         description="The token budget of a server's step there.")
    offline_batch_tokens: int | None = Field(None, ge=1, le=MAX_STEP_TOKENS,
                                             description="The token budget of an offline run there.")
    max_seqs: int | None = Field(None, ge=1, le=MAX_SEQS, description="The running-sequence limit there.")


def _increasing(sizes: list[int]) -> list[int]:
    """Captured batch sizes in increasing order, each once (a step pads up to the next one)."""
    if any(b <= a for a, b in itertools.pairwise(sizes)):
        raise ValueError("must list batch sizes in increasing order, each once")
    return sizes


# the operator rows of a layer of a model with MLA attention (genmodel.engine.operators), which
# ``EngineSpec.mla_extra_kernels`` may name
MLA_LAYER_ROWS = ("attn_add_norm", "latent_norms", "q_down", "q_up", "kv_down", "kv_up", "rope", "q_absorb",
                  "attn_scores", "v_absorb", "o_proj", "ffn_add_norm", "ffn_gate_up", "ffn_act", "ffn_down", "router",
                  "moe_route", "experts_up", "experts_act", "experts_down", "moe_combine", "shared_expert_gate_up",
                  "shared_expert_act", "shared_expert_down")
MlaRow = Literal[MLA_LAYER_ROWS]  # type: ignore[valid-type]
# of them, the rows a MoE layer of a decode step has none of: the prompt-only up-projection and the dense FFN's
_NOT_IN_A_MOE_DECODE_LAYER = frozenset({"kv_up", "ffn_gate_up", "ffn_act", "ffn_down"})

# multiply-accumulates or bytes per compute unit per clock (EngineSpec.quantized_gemm_macs_per_unit_clock,
# stream_bytes_per_unit_clock)
PerUnitClock = Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]
CapturedSizes = Annotated[list[Annotated[int, Field(ge=1, le=2**20)]], AfterValidator(_increasing)]


class EngineSpec(FrozenSpec):
    """One serving engine's per-step behaviour (see the module docstring)."""

    name: EntryName = Field(description="Database key, e.g. 'vllm'.")
    display_name: DisplayName = Field(description="Human-readable name, e.g. 'vLLM (V1 engine)'.")
    step_overhead_s: Seconds = Field(description="Host work per engine step at batch 1 (a) in seconds.")
    step_overhead_per_sequence_s: Seconds = Field(
        0.0, description="Host work per sequence in the step (b): sampling, detokenization, scheduling, in seconds.")
    prefill_overhead_s: Seconds = Field(
        0.0, description="Host work added to each prefill step (c): admitting requests, setting up their context "
        "phase, in seconds.")
    scheduler_steps: int = Field(
        1, ge=1, le=1024,
        description="Decode steps per scheduler pass (vLLM V0's --num-scheduler-steps, 0.6 to 0.9): the "
        "host work of a decode step (a + b x sequences) is done once for that many steps, its output processing "
        "overlapped with them, so each decode step carries 1/scheduler_steps of it; prompt steps carry all of theirs.")
    kernel_overhead_s: Seconds = Field(description="Gap per kernel launch in seconds (graphs replayed or not).")
    eager_launch_s: Seconds = Field(
        0.0, description="Host time per kernel of a step the engine runs eagerly, without a captured graph (the "
        "framework's Python and dispatch around each launch), in seconds; such a step lasts at least its kernels x "
        "this (0: eager steps as fast as the device; no figure).")
    graph_steps: Literal["all", "decode", "none"] = Field(
        "decode", description="Steps it replays captured graphs for: 'decode': decode steps only (steps carrying "
        "prompt tokens run eagerly: SGLang, ATOM); 'all': every step (vLLM's piecewise graphs); 'none': no step "
        "(vLLM --enforce-eager, SGLang --disable-cuda-graph). Decode steps above the largest of "
        "decode_batch_buckets run eagerly in any case. Costs nothing where eager_launch_s is 0.")
    decode_batch_buckets: CapturedSizes | None = Field(
        None, min_length=1, description="Batch sizes the engine captures decode graphs for, increasing; a step pads up "
        "to the next one (none: no padding).")
    decode_graph_limits: list[GraphLimit] = Field(
        default_factory=list, description="How the engine picks its largest captured decode batch by device memory "
        "and tensor parallelism (SGLang's cuda_graph_max_bs): the first rule that applies wins; the captured sizes "
        "are decode_batch_buckets up to it, and a larger decode batch has no graph. Empty: every bucket.")
    prompt_buckets: Literal["none", "pow2", "step"] = Field(
        "none", description="'pow2': prompts are padded to the next power of two (XLA-compiled engines); 'step': to "
        "the next power of two up to prompt_bucket_step, above it to the next multiple of it (Gaudi's bucketing).")
    min_prompt_bucket: int = Field(128, ge=1, le=MAX_STEP_TOKENS,
                                   description="Smallest prompt bucket when prompts are padded.")
    prompt_bucket_step: int = Field(128, ge=1, le=MAX_STEP_TOKENS,
                                    description="Prompt bucket step when prompt_buckets is 'step'.")
    batch_buckets: Literal["none", "pow2", "step"] = Field(
        "none", description="'pow2': the batch is padded to the next power of two (compiled static shapes); 'step': "
        "to the next power of two up to batch_bucket_step, above it to the next multiple of it (Gaudi's bucketing).")
    batch_bucket_step: int = Field(32, ge=1, le=MAX_SEQS, description="Batch bucket step when batch_buckets is 'step'.")
    pads_heads: bool = Field(
        False, description="Pads attention heads to whole heads per tensor-parallel rank (and at least one KV head "
        "per rank), so a tp that does not divide the heads runs at the padded cost (Neuron).")
    cpu_matrix_units: bool = Field(
        True, description="On CPU devices, whether the engine's GEMM and attention kernels use the matrix units "
        "(Intel AMX, Arm SME); false: they run on the vector units at the device's fp32 peak (llama.cpp's ggml CPU "
        "backend).")
    attention_scale: float = Field(
        1.0, ge=0.01, le=1.5, description="Quality of the engine's fused attention relative to the device's "
        "reference kernel (FlashAttention-3 on Hopper, 1.0).")
    kv_read_scale: float = Field(
        1.0, ge=0.01, le=1.5,
        description="Quality of its decode attention reading the (paged) KV cache, relative to the "
        "device's KV-read fraction.")
    weight_only_scale: float = Field(
        1.0, ge=0.01, le=1.5, description="Efficiency of weight-only quantized GEMMs (int4/int8/fp8 weights "
        "dequantized to 16-bit activations in the kernel) relative to the device's GEMMs; weight-only GEMMs with "
        "narrower activations (fp4 weights, fp8 activations) are not rated and run at 1.")
    weight_only_vector_ops_per_mac: float | None = Field(
        None, ge=1, le=1000,
        description="Its weight-only quantized GEMMs run as a matrix-vector kernel on the vector units "
        "for every token of the step (AutoAWQ's GEMV kernel), costing this many vector-lane instructions per "
        "multiply-accumulate (unpack, convert, dequantize, convert the activation, accumulate): such a GEMM computes "
        "at the vector FP32 FLOP/s / this number, and its arithmetic overlaps its weight stream (a streaming "
        "kernel); none: they use the matrix units at weight_only_scale.")
    dequantize_copy_above_rows: int | None = Field(
        None, ge=0, le=2**32,
        description="A weight-only quantized GEMM of more than this many rows (tokens; per expert for "
        "routed experts) first writes its matrix dequantized to the activation datatype into a scratch buffer, one "
        "kernel, then runs the dense GEMM on that copy (ExLlama's and ExLlamaV2's reconstruct-then-cublasHgemm path, "
        "bitsandbytes' 4-bit matmul): the step moves the packed weights plus 2 x activation bytes per weight "
        "element (the copy written and read) and the GEMM is not weight-only; none: every weight-only GEMM "
        "dequantizes in its kernel.")
    quantized_gemm_macs_per_unit_clock: dict[str, PerUnitClock] | None = Field(
        None, description="Its own weight-only quantized GEMM kernels of at least quantized_gemm_min_tokens tokens "
        "(llama.cpp's MMQ on CUDA) are bound per compute unit, not by the matrix units: they sustain at most this "
        "many multiply-accumulates per compute unit per clock, keyed by the vendor of the devices whose kernels these "
        "are (llama.cpp: {NVIDIA: 260}); such a GEMM computes at min(its fraction of the matrix peak, 2 x this x "
        "compute units x clock_hz) on devices of that vendor that state both (Microarchitecture); none: the matrix "
        "units' fraction alone.")
    stream_bytes_per_unit_clock: dict[str, PerUnitClock] | None = Field(
        None, description="Its kernels stream at most this many bytes from memory per compute unit per clock, keyed "
        "by the vendor of the devices whose kernels these are (llama.cpp: {NVIDIA: 6.5}): by Little's law the bytes a "
        "kernel keeps in flight per compute unit over the memory latency in clocks, which falls short of the "
        "bandwidth of a device with many bytes per second per compute unit (HBM); every memory stream of a step "
        "runs at min(the memory fraction x bandwidth, this x compute units x clock_hz) on devices of that vendor "
        "that state both (Microarchitecture); none: the memory fraction alone.")
    quantized_gemm_min_tokens: int = Field(
        1, ge=1, le=2**20, description="Fewest tokens (GEMM rows) that run on the kernels "
        "quantized_gemm_macs_per_unit_clock describes (llama.cpp: 9, above MMVQ_MAX_BATCH_SIZE = 8, the batch up to "
        "which ggml-cuda runs quantized products as matrix-vector kernels).")
    fp16_accumulate: bool = Field(
        False, description="Its FP16 GEMMs accumulate in FP16 (llama.cpp's cuBLAS path: CUBLAS_COMPUTE_16F on NVIDIA "
        "GPUs other than Volta), so they reach a device's FP16-accumulate rate "
        "(Microarchitecture.fp16_accumulate_speedup: twice the listed rate on GeForce cards).")
    prompt_ubatch_tokens: int | None = Field(
        None, ge=1, le=MAX_STEP_TOKENS,
        description="Most prompt tokens one forward pass computes (llama.cpp's physical batch, n_ubatch): "
        "a longer prompt, or batch of prompts, runs in ceil(tokens / this) passes one after another, each reading the "
        "weights again and attending to the tokens before it; none: the whole prompt in one pass.")
    pipeline_copies: int | None = Field(
        None, ge=1, le=2**16,
        description="Most micro-batches (a prompt's passes) in flight through a pipeline of stages at once: the "
        "engine keeps this many copies of its graph's inputs (llama.cpp: GGML_SCHED_MAX_COPIES, 4), so with more "
        "stages than copies the next micro-batch enters the first stage only when the one this many before it has "
        "left the last; none: every stage may hold one.")
    mla_extra_kernels: dict[MlaRow, Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="Kernels the engine's DeepSeek modelling code (a model with MLA attention, "
        "every layer) launches per layer beyond genmodel's count, by the operator row they go with: activation "
        "quantizations in kernels of their own, a rotary embedding in native PyTorch ops, copies between buffers "
        "(SGLang 0.4: docs/formulas.md 5.2). Each costs what any kernel does: the kernel floor and the launch gap in "
        "a captured graph, eager_launch_s of host time in an eager step; none: the rows' own kernels.")
    flash_attention: bool = Field(
        True, description="Its attention is one fused kernel (FlashAttention-class): the scores stay on chip; false: "
        "the score matrix of every query and key read goes through memory (unfused_score_bytes per score).")
    unfused_score_bytes: float = Field(
        16.0, ge=0, le=64, description="Bytes of memory traffic per attention score when the attention is not fused: "
        "FP32 scores written by the QK^T product, read and written by the softmax, read by the product with V.")
    max_batch_tokens: int = Field(
        8192, ge=1, le=MAX_STEP_TOKENS,
        description="Tokens one engine step may carry (decode tokens + prompt tokens): vLLM "
        "max_num_batched_tokens, TensorRT-LLM max_num_tokens, SGLang chunked_prefill_size.")
    max_batch_tokens_on: dict[str, Annotated[int, Field(ge=1, le=MAX_STEP_TOKENS)]] = Field(
        default_factory=dict, description="The token budget on named devices (hardware names) where the engine "
        "picks it per device, e.g. vLLM's TPU backend by TPU generation; other devices take max_batch_tokens.")
    offline_batch_tokens: int | None = Field(
        None, ge=1, le=MAX_STEP_TOKENS,
        description="The token budget of an offline run (serve's offline load: vLLM's LLM class, as "
        "benchmark_throughput and LLM.generate use it) where the engine picks another than a server's; none: "
        "max_batch_tokens.")
    max_seqs: int | None = Field(
        256, ge=1, le=MAX_SEQS,
        description="Most sequences running at once (vLLM max_num_seqs, TensorRT-LLM max_batch_size, "
        "SGLang max_running_requests); none: only the KV cache limits them.")
    batch_defaults: list[BatchDefaults] = Field(
        default_factory=list, description="Rules by device memory (the first that applies) for the token budget and "
        "the running-sequence limit, where the engine picks them by device (vLLM: larger on devices of 70 GiB or "
        "more); a device named in max_batch_tokens_on takes that budget.")
    kv_block_tokens: int = Field(16, ge=1, le=2**16,
                                 description="Tokens per KV-cache page (a request holds whole pages).")
    mixed_batches: bool = Field(
        True, description="Prompt chunks ride in decode steps (vLLM, TensorRT-LLM); false: prefill steps run apart "
        "and decoding stalls during them (SGLang's default).")
    chunked_prefill: bool = Field(
        True, description="Prompts longer than the step's room are split over steps; false: a prompt runs whole.")
    kv_reserve_outputs: bool = Field(
        False, description="The scheduler admits a request only with KV-cache room for its whole prompt and output "
        "(TensorRT-LLM's default capacity policy, GUARANTEED_NO_EVICT); false: on the tokens the requests hold, a "
        "request's prompt and half its output on average (vLLM and SGLang admit on what is held now).")
    kv_recompute_on_full: bool = Field(
        False, description="The scheduler admits on the tokens held now and, when a full KV cache leaves a decode no "
        "room, preempts the request admitted last and recomputes it on readmission (vLLM's default preemption): at a "
        "KV-bound saturation each request's output tokens come back as prompt work, below it the running requests' "
        "overflow of the cache (docs/serving.md section 1). Off in the shipped profiles: a closed loop still steps "
        "down at the cap, and runs that the cache holds nearly whole when it admits on prompts are predicted slower "
        "still (docs/serving.md section 5).")
    fittable: bool = Field(
        True, description="Whether calibration may use this engine's rows to fit a family's factors; false for a "
        "profile that knowingly lacks the engine's dominant cost (as AutoAWQ's GEMV profile did before its kernel got "
        "a term): its rows are still predicted and validated.")
    request_latency_s: Seconds = Field(
        REQUEST_LATENCY_S, description="A request's time in the engine's HTTP server outside the engine steps "
        "(parse, chat template, tokenize, hand-off to the engine process, first token back), in seconds; in an "
        "HTTP client's TTFT and end-to-end latency, not in the engine's own timings.")
    source: str = Field(min_length=1, description="Where the figures come from.")
    notes: str | None = Field(None, description="Versions the figures describe, caveats.")

    @property
    def mla_moe_decode_extra_kernels(self) -> float:
        """The extra kernels (``mla_extra_kernels``) of one MoE layer of a DeepSeek decode step: every row's but the
        prompt-only up-projection's (``kv_up``) and the dense FFN's."""
        return sum(k for row, k in self.mla_extra_kernels.items() if row not in _NOT_IN_A_MOE_DECODE_LAYER)

    @property
    def graphs_off(self) -> bool:
        """Every step is eager: no step replays a captured graph (``graph_steps`` 'none') and the profile has a host
        time per eager kernel to time them by (a profile's ``NAME+eager`` variant)."""
        return self.graph_steps == "none" and self.eager_launch_s > 0

    def batch_limits_on(self, device: str, memory_bytes: float, offline: bool = False) -> tuple[int, int | None]:
        """(token budget of one step, running-sequence limit) on ``device`` (a hardware name) whose fastest memory
        holds ``memory_bytes``, for a server or an ``offline`` run: the first of ``batch_defaults`` that applies
        there, field by field, else the profile's own (``offline_batch_tokens``, else ``max_batch_tokens``); a budget
        ``max_batch_tokens_on`` names for the device wins."""
        name = device.lower()
        rule = next((r for r in self.batch_defaults if memory_bytes >= r.memory_at_least_bytes
                     and not any(part.lower() in name for part in r.names_except)), None)
        tokens = self.offline_batch_tokens if offline and self.offline_batch_tokens is not None else \
            self.max_batch_tokens
        seqs = self.max_seqs
        if rule is not None:
            picked = rule.offline_batch_tokens if offline else rule.max_batch_tokens
            tokens = picked if picked is not None else tokens
            seqs = rule.max_seqs if rule.max_seqs is not None else seqs
        return self.max_batch_tokens_on.get(device, tokens), seqs


def bucketed(value, mode: str, step: int, least: float = 1.0):
    """``value`` (sequences or prompt tokens, a number or an array) padded to its bucket under ``mode``: 'pow2', the
    next power of two (at least ``least``); 'step', the next of ``least`` x 2^k below ``step``, ``step`` and its
    multiples above it (Gaudi: "min gets multiplied by consecutive powers of two until step gets reached", then
    linear steps); 'none' (or anything else): ``value`` itself, the same object."""
    if mode not in ("pow2", "step"):
        return value
    power = np.maximum(2.0 ** np.ceil(np.log2(np.maximum(value, 1.0))), least)
    if mode == "pow2":
        return power
    return np.where(value <= step, np.minimum(power, float(step)), np.ceil(value / step) * float(step))
