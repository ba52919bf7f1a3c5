"""vLLM's V0 scheduler for validation rows that ran it (genmodel.validation.rows.vllm_v0_scheduler; docs/validation.md
history item 35).

Every expected setting is read off vLLM's own source, in the release wheels of each version:
* V1 is the default from 0.8.0 on CUDA only (``vllm/envs.py`` VLLM_USE_V1 "0" in 0.7.3, "1" in 0.8.0; 0.8.x's
  ``_is_v1_supported_oracle``: "Non-CUDA is supported on V1, but off by default for now");
* V0 turns chunked prefill on by itself only for max_model_len > 32K on a GPU, without sliding window (``arg_utils.py``
  ``create_engine_config``; ROCm excluded from 0.6.5, ``not current_platform.is_rocm()`` in 0.7.3);
* 0.7.1-0.7.3 force it off for MLA models ("MLA is enabled; forcing chunked prefill and prefix caching to be
  disabled.", ``vllm/config.py`` ``VllmConfig.__post_init__``);
* ``SchedulerConfig``: max_num_batched_tokens = 512 with chunked prefill up to 0.6.4 (2048 from 0.6.5, vLLM PR 10544),
  max(max_model_len, 2048) without it or with multi-step scheduling;
* without chunked prefill ``_schedule_default`` runs a step of prompts and no decode ("Don't schedule decodes if
  prefills are scheduled"): prefill steps apart, whole prompts.
"""

from __future__ import annotations

import pytest

import genmodel
from genmodel.validation.rows import parse_row, vllm_v0_scheduler


def _row(version: str, system: str, model: str = "llama-3.1-8b", hardware: str = "h100-sxm") -> dict[str, str]:
    return {"id": "T-1", "model": model, "hardware": hardware, "dtype": "bf16/bf16/bf16", "num_devices": "1",
            "system": system + "; continuous", "batch_or_concurrency": "64", "input_len": "1024", "output_len": "128",
            "tp": "1", "pp": "1", "ep": "1", "metric": "ttft", "value": "100", "unit": "ms", "engine": "vllm",
            "engine_version": version, "batching": "continuous"}


def _v0(version: str, system: str, model: str = "llama-3.1-8b", hardware: str = "h100-sxm"):
    return vllm_v0_scheduler(_row(version, system, model, hardware), genmodel.get_model(model),
                             genmodel.get_hardware(hardware))


def _settings(chunked: bool, budget: int) -> dict:
    return {"mixed_batches": chunked, "chunked_prefill": chunked, "max_batch_tokens": budget}


def test_v1_rows_keep_the_vllm_profile():
    assert _v0("0.8.5", "vllm serve M") is None  # V1 by default on CUDA from 0.8.0
    assert _v0("0.10.1.1", "vllm serve M") is None
    assert _v0("0.7.3", "vllm serve M, V1 engine") is None  # stated
    assert _v0("0.7.3", "VLLM_USE_V1=1 vllm serve M") is None
    assert _v0("", "vllm serve M") is None  # no version, nothing stated: the profile as it is
    assert _v0("main at PR #23151 (Aug 2025)", "vllm serve M") is None


def test_v0_defaults_by_version_and_platform():
    # Llama-3.1-8B's 131,072-token context > 32K: chunked prefill on by default on CUDA, 512 tokens a step up to 0.6.4
    assert _v0("0.6.3", "vllm serve M") == _settings(True, 512)
    assert _v0("0.6.3.dev116+g151ef4ef", "vllm serve M", "llama-3.1-405b", "mi300x") == _settings(True, 512)
    # ... 2048 from 0.6.5; on ROCm it stays off from 0.6.5 (then whole prompts, up to max(131072, 2048) tokens)
    assert _v0("0.7.3", "vllm serve M") == _settings(True, 2048)
    assert _v0("0.6.7.dev (rocm/vllm-dev:20250112)", "vllm serve M", hardware="mi300x") == _settings(False, 131072)
    # a stated --max-model-len of 32768 is not above 32K: off, budget max(32768, 2048)
    assert _v0("0.7.3", "vllm serve M --max-model-len 32768") == _settings(False, 32768)
    assert _v0("0.6.0", "vllm serve M (max_model_len 4096)") == _settings(False, 4096)
    assert _v0("0.6.0", "vllm serve M --max-model-len 1024") == _settings(False, 2048)  # at least 2048
    # 0.8.x stays on V0 off CUDA (ROCm) unless VLLM_USE_V1=1
    assert _v0("0.8.5", "vllm serve M", hardware="mi300x") == _settings(False, 131072)
    assert _v0("0.8.5", "VLLM_USE_V1=1 vllm serve M", hardware="mi300x") is None


def test_v0_mla_multi_step_sliding_window_and_stated_settings():
    # DeepSeek-R1 (MLA) on vLLM 0.7.3: chunked prefill forced off, even on CUDA with a long context
    assert _v0("0.7.3", "vllm serve M", "deepseek-r1", "h200-sxm") == _settings(False, 163840)
    # multi-step scheduling is V0 only, whatever the version; the budget stays max(max_model_len, 2048)
    assert _v0("", "benchmark_throughput --num-scheduler-steps 10 --max-model-len 8192") == _settings(False, 8192)
    # a sliding-window model is never chunked by default
    assert genmodel.get_model("mistral-7b-v0.1").attention.window_tokens is not None
    assert _v0("0.6.3", "vllm serve M", "mistral-7b-v0.1") == _settings(False, 32768)
    # what the row states wins
    assert _v0("0.6.3", "vllm serve M, chunked prefill off") == _settings(False, 131072)
    assert _v0("0.6.3", "vllm serve M --enable-chunked-prefill --max-model-len 8192") == _settings(True, 512)
    assert _v0("0.6.3", "vllm serve M --no-enable-chunked-prefill") == _settings(False, 131072)
    assert _v0("0.9.2.dev364", "benchmark_latency (V0 engine, HIP graphs, no chunked prefill)",
               hardware="mi300x") == _settings(False, 131072)


def test_a_v0_row_runs_the_v0_scheduler_and_a_stated_budget_wins():
    case = parse_row(_row("0.7.3.dev138+g21f6ca217", "vllm serve M --tensor-parallel-size 8 --max-model-len 32768",
                          "deepseek-r1", "mi300x") | {"num_devices": "8", "tp": "8", "dtype": "fp8/fp8/bf16"})
    engine = case.kwargs["engine"]
    assert (engine.name, engine.mixed_batches, engine.chunked_prefill, engine.max_batch_tokens) == (
        "vllm", False, False, 32768)
    stated = parse_row(_row("0.6.3", "vllm serve M --max-num-batched-tokens 131072, chunked prefill off"))
    assert (stated.kwargs["engine"].max_batch_tokens, stated.kwargs["engine"].mixed_batches) == (131072, False)
    assert parse_row(_row("0.10.1.1", "vllm serve M")).kwargs["engine"] == "vllm"


def test_a_v0_wave_of_identical_requests_queues_its_prompts():
    # N = 16 clients re-sending identical requests: V0 (prefill steps apart, whole prompts up to 32768 tokens a step)
    # prefills the wave's 16 x 2048 = 32768 prompt tokens in one step, so every request's first token waits for the
    # whole wave's step, where V1's mixed steps give each bunch its own prompt steps (genmodel.serving.waves): its
    # 8,192-token budget splits the wave into 4 bunches of 4 prompts, each first token after about a quarter of it
    v1 = genmodel.get_engine("vllm")
    v0 = v1.model_copy(update=_settings(False, 32768))
    kw = dict(input_tokens=2048, output_tokens=256, concurrency=16, synchronized=True)
    slow = genmodel.serve("llama-3.1-8b", "h100-sxm", engine=v0, **kw)
    fast = genmodel.serve("llama-3.1-8b", "h100-sxm", engine=v1, **kw)
    assert float(slow.metrics["prompt_tokens_per_step"]) == 32768.0
    assert float(slow.metrics["ttft_mean_s"]) == pytest.approx(float(slow.metrics["ttft_p99_s"]), rel=1e-12)
    assert float(slow.metrics["ttft_mean_s"]) > 2 * float(fast.metrics["ttft_mean_s"])
