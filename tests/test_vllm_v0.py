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
  prefills are scheduled"): prefill steps apart, whole prompts;
* the model runner replays a captured CUDA graph only for a step without prompt tokens (``vllm/worker/model_runner.py``
  ``execute_model``: "Currently cuda graph is only supported by the decode phase", ``if prefill_meta is None and
  decode_meta.use_cuda_graph``): prompt steps, chunked ones included, run eagerly (history item 41).
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
    # V0's max_num_seqs is 256 on every device (vllm/engine/arg_utils.py 0.7.3: 256 if not VLLM_USE_V1 else 1024);
    # graphs for decode steps only
    return {"mixed_batches": chunked, "chunked_prefill": chunked, "max_batch_tokens": budget, "max_seqs": 256,
            "graph_steps": "decode"}


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
    # (and that release's DeepSeek kernels, the 'vllm-v0' profile's: docs/validation.md history item 75)
    assert _v0("0.7.3", "vllm serve M", "deepseek-r1", "h200-sxm") == {
        **_settings(False, 163840), "mla_extra_kernels": genmodel.get_engine("vllm-v0").mla_extra_kernels}
    # multi-step scheduling is V0 only, whatever the version; the budget stays max(max_model_len, 2048)
    assert _v0("", "benchmark_throughput --num-scheduler-steps 10 --max-model-len 8192") == _settings(False, 8192)
    # ... but N = 1 is the default, single-step scheduling, which V1 accepts (0.8.5 arg_utils.py
    # _is_v1_supported_oracle: fallback only where num_scheduler_steps != SchedulerConfig.num_scheduler_steps, 1; V0
    # steps several times only where num_scheduler_steps > 1): a 0.8.5 CUDA run stays V1, a 0.7.3 run keeps V0's
    # default chunking (2048-token budget for a 131,072-token context)
    assert _v0("0.8.5", "vllm serve M --num-scheduler-steps 1") is None
    assert _v0("0.8.5", "vllm serve M --num-scheduler-steps 8") == _settings(False, 131072)
    assert _v0("0.7.3", "vllm serve M --num-scheduler-steps=1") == _settings(True, 2048)
    assert _v0("0.7.3", "vllm serve M --num-scheduler-steps=16") == _settings(False, 131072)
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
    # V0's budget and 256 sequences hold on the MI300X too, for a server and an offline run (no V1 rule by memory)
    mi300x = genmodel.get_hardware("mi300x").fastest_memory.capacity_bytes
    assert engine.batch_limits_on("mi300x", mi300x) == engine.batch_limits_on("mi300x", mi300x, True) == (32768, 256)
    stated = parse_row(_row("0.6.3", "vllm serve M --max-num-batched-tokens 131072, chunked prefill off"))
    assert (stated.kwargs["engine"].max_batch_tokens, stated.kwargs["engine"].mixed_batches) == (131072, False)
    assert parse_row(_row("", "vllm serve M")).kwargs["engine"] == "vllm"  # no release stated: the profile
    v1 = parse_row(_row("0.10.1.1", "vllm serve M")).kwargs["engine"]  # without the rule of 0.28.0
    assert [r.since_release for r in v1.batch_defaults] == [None] and v1.mixed_batches


def test_a_v0_wave_of_identical_requests_queues_its_prompts():
    # N = 16 clients re-sending identical requests: V0 (prefill steps apart, whole prompts up to 32768 tokens a step)
    # prefills the wave's 16 x 2048 = 32768 prompt tokens in one step, so every request's first token waits for the
    # whole wave's step, where V1's mixed steps give each bunch its own prompt steps (genmodel.serving.waves): its
    # 8,192-token budget splits the wave into 4 bunches of 4 prompts, each first token after about a quarter of it
    v1 = genmodel.get_engine("vllm")
    v0 = v1.model_copy(update={**_settings(False, 32768), "batch_defaults": [], "offline_batch_tokens": None})
    kw = dict(input_tokens=2048, output_tokens=256, concurrency=16, synchronized=True)
    slow = genmodel.serve("llama-3.1-8b", "h100-sxm", engine=v0, **kw)
    fast = genmodel.serve("llama-3.1-8b", "h100-sxm", engine=v1, **kw)
    assert float(slow.metrics["prompt_tokens_per_step"]) == 32768.0
    assert float(slow.metrics["ttft_mean_s"]) == pytest.approx(float(slow.metrics["ttft_p99_s"]), rel=1e-12)
    assert float(slow.metrics["ttft_mean_s"]) > 2 * float(fast.metrics["ttft_mean_s"])


GIB = 2**30


@pytest.mark.parametrize("device, memory_gib, server, offline", [
    # vllm/engine/arg_utils.py get_batch_defaults (0.12.0 wheel lines 1799-1879; 0.34.0 lines 2977-3076):
    ("h100-sxm", 80, (8192, 1024), (16384, 1024)),  # >= 70 GiB: server 8,192, LLM class 16,384, 1,024 sequences
    ("a100-80gb-sxm", 80, (2048, 256), (8192, 256)),  # "a100" not in the device name: A100s take the small values
    ("l4", 22.5, (2048, 256), (8192, 256)),  # below 70 GiB: 2,048 / 8,192 tokens, 256 sequences
    ("mi300x", 192, (16384, 1024), (16384, 1024)),  # >= 160 GiB (from 0.28.0): 16,384 for both, 1,024 sequences
])
def test_vllm_v1_picks_its_batch_defaults_by_device_memory_and_entry_point(device, memory_gib, server, offline):
    vllm = genmodel.get_engine("vllm")
    hw = genmodel.get_hardware(device)
    assert hw.fastest_memory.capacity_bytes == pytest.approx(memory_gib * GIB, rel=0.01)
    assert vllm.batch_limits_on(device, hw.fastest_memory.capacity_bytes) == server
    assert vllm.batch_limits_on(device, hw.fastest_memory.capacity_bytes, offline=True) == offline
    # serve takes them: a server's budget and limit, and an offline run's budget (its settings say which)
    kw = dict(input_tokens=1024, output_tokens=128, calibrated=False)
    online = genmodel.serve("llama-3.1-8b", device, concurrency=8, **kw).settings
    batch = genmodel.serve("llama-3.1-8b", device, offline=64, **kw).settings
    assert (online["max_batch_tokens"], online["max_seqs"]) == server
    assert (batch["max_batch_tokens"], batch["max_seqs"]) == offline


def test_a_named_budget_a_stated_setting_and_an_older_release_win_over_the_memory_rules():
    vllm = genmodel.get_engine("vllm")
    assert vllm.max_batch_tokens == 2048  # (the profile's own figure, before the rules)
    named = vllm.model_copy(update={"max_batch_tokens_on": {"h100-sxm": 4096}})
    assert named.batch_limits_on("h100-sxm", 80 * GIB) == (4096, 1024)
    stated = parse_row(_row("0.10.1.1", "vllm serve M --max-num-batched-tokens 2048")).kwargs["engine"]
    assert stated.batch_limits_on("h100-sxm", 80 * GIB) == (2048, 1024)  # the budget stated, the limit the rule's
    assert stated.batch_limits_on("h100-sxm", 80 * GIB, offline=True) == (2048, 1024)
    seqs = parse_row(_row("0.10.1.1", "vllm serve M --max-num-seqs 256")).kwargs["engine"]
    assert seqs.batch_limits_on("h100-sxm", 80 * GIB) == (8192, 256)
    # the 160 GiB rule came with 0.28.0: a 0.10 row on an MI300X takes the 70 GiB rule
    old = parse_row(_row("0.10.1.1", "vllm serve M", hardware="mi300x")).kwargs["engine"]
    assert old.batch_limits_on("mi300x", 192 * GIB) == (8192, 1024)
    new = parse_row(_row("0.28.0", "vllm serve M", hardware="mi300x")).kwargs["engine"]
    assert new == "vllm"


def test_a_batch_rule_is_checked_where_the_engine_spec_is_read():
    from genmodel.specs.engine import EngineSpec

    base = genmodel.get_engine("vllm").model_dump()
    rule = {"memory_at_least_bytes": "70 GiB", "max_seqs": 1024}
    for bad in ({**rule, "since_release": "latest"}, {**rule, "max_seqs": 0}, {**rule, "memory_at_least_bytes": -1}):
        with pytest.raises(ValueError, match="batch_defaults"):
            EngineSpec.model_validate({**base, "batch_defaults": [bad]})
    upper = EngineSpec.model_validate({**base, "batch_defaults": [{**rule, "names_except": ["H100"]}]})
    assert upper.batch_limits_on("h100-sxm", 80 * GIB) == (2048, 256)  # excluded whatever the case


def test_a_v0_row_runs_its_prompt_steps_eagerly_and_its_decode_steps_from_graphs():
    # the V1 profile replays graphs for every step (graph_steps 'all'); a V0 row's copy for decode steps only, and a
    # row stating --enforce-eager keeps no graph at all
    assert genmodel.get_engine("vllm").graph_steps == "all"
    assert parse_row(_row("0.6.3", "vllm serve M")).kwargs["engine"].graph_steps == "decode"
    assert parse_row(_row("0.6.3", "vllm serve M --enforce-eager")).kwargs["engine"].graph_steps == "none"
    assert parse_row(_row("0.10.1.1", "vllm serve M")).kwargs["engine"].graph_steps == "all"  # (its release's rules)
    # so a static batch's prompt step is timed as vllm+eager's (every step eager) and its decode steps as vllm's
    # (graphs): the same numbers, by the definition of the three settings. A 16-token prompt of Llama-3.1-8B on an
    # H100 (weights streamed in about 8 ms) takes less than the host's time to issue its kernels: 32 layers as
    # Llama-2-7B's, 291 kernels in genmodel's count (engines_db/vllm.yaml) x 40 us = 11.6 ms at least
    v1 = genmodel.get_engine("vllm")
    v0 = v1.model_copy(update=_settings(False, 131072))
    kw = dict(batch=1, input_tokens=16, output_tokens=64)
    old, new = (genmodel.estimate("llama-3.1-8b", "h100-sxm", engine=e, **kw) for e in (v0, v1))
    eager = genmodel.estimate("llama-3.1-8b", "h100-sxm", engine="vllm+eager", **kw)
    assert old.ttft_s == pytest.approx(eager.ttft_s, rel=1e-12) and old.ttft_s >= 291 * 40e-6 > new.ttft_s
    assert old.tpot_s == pytest.approx(new.tpot_s, rel=1e-12) and eager.tpot_s > 1.5 * new.tpot_s


def test_the_vllm_v0_profile_is_v0s_scheduler_for_a_long_context_model_on_cuda():
    # an estimate of a V0 deployment (--engine vllm-v0) runs what a V0 row of a model with more than 32K of context
    # runs on CUDA from 0.6.5: chunked prefill in 2,048-token steps, 256 sequences, graphs for decode steps only;
    # its captured sizes end at 256 (V0's _BATCH_SIZES_TO_CAPTURE, [1, 2, 4] + multiples of 8 up to 256)
    profile = genmodel.get_engine("vllm-v0")
    settings = {k: getattr(profile, k) for k in ("mixed_batches", "chunked_prefill", "max_batch_tokens", "max_seqs",
                                                   "graph_steps")}
    assert settings == _v0("0.7.3", "vllm serve M") == _settings(True, 2048)
    assert profile.decode_batch_buckets == [1, 2, 4] + [8 * i for i in range(1, 33)]
    assert profile.batch_defaults == [] and profile.eager_launch_s == genmodel.get_engine("vllm").eager_launch_s


def test_a_vllm_v0_prompt_step_waits_for_its_kernels_by_hand(toy_model, toy_hw):
    # the toy model's prefill launches 21 kernels (tests/test_engines.py), its device time well under 21 x 40 us: the
    # eager prompt step lasts 0.84 ms + a + b x 1 = 0.84 + 0.4 + 0.003 ms; V1 replays a graph for it
    kw = dict(batch=1, input_tokens=100, output_tokens=2)
    v0 = genmodel.estimate(toy_model, toy_hw, engine="vllm-v0", **kw)
    v1 = genmodel.estimate(toy_model, toy_hw, engine="vllm", **kw)
    assert v0.ttft_s == pytest.approx(21 * 40e-6 + 0.4e-3 + 3e-6, rel=1e-9)
    assert v1.ttft_s < 0.7e-3 and v0.tpot_s == v1.tpot_s
