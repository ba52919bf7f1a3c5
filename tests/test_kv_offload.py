"""KV-cache offload in the served-traffic model (``serve(..., kv_offload=...)``, ``genmodel serve --kv-offload``;
docs/serving.md section 4b). Every expected number is derived here by hand from published figures:

* Llama-3.1-8B (Meta's config.json): 32 layers, 8 KV heads of head dim 128, bf16 KV: 2 (K, V) x 32 x 8 x 128 x 2 B
  = 131,072 B per token on one device;
* H100 / H200 SXM host link: PCIe Gen5 x16, 64 GB/s per direction (NVIDIA datasheet: 128 GB/s bidirectional);
  host memory 2 TiB per 8-GPU DGX / HGX server = 256 GiB per GPU, less the 10 GiB reserve SGLang's host KV pool
  keeps free: 246 GiB;
* GH200: the LPDDR5X tier (480 GiB) over NVLink-C2C, 450 GB/s per direction (datasheet: 900 GB/s bidirectional).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from genmodel.data.registry import get_hardware, get_model
from genmodel.errors import ConfigurationError, GenmodelError
from genmodel.interfaces.cli import main
from genmodel.serving.serve import serve
from genmodel.serving.steady import Load, Requests, Scheduler, peak_rate, solve
from genmodel.specs.hardware import HardwareSpec

GIB = 2**30
KV_BYTES_PER_TOKEN = 2 * 32 * 8 * 128 * 2  # Llama-3.1-8B, bf16, one device: 131,072 B
PCIE5_X16 = 64e9  # bytes/s per direction
HOST_POOL = (256 - 10) * GIB  # per H100 / H200 SXM: 2 TiB / 8 GPUs, less the 10 GiB reserve
C2C = 450e9


def test_llama_kv_bytes_per_token_from_the_published_config():
    m = get_model("llama-3.1-8b")
    assert (m.num_layers, m.attention.num_kv_heads, m.attention.head_dim) == (32, 8, 128)


def test_hardware_host_links_carry_the_datasheet_figures():
    h100 = get_hardware("h100-sxm").host_link
    assert h100.bandwidth_per_direction_bytes_per_s == PCIE5_X16 and h100.memory_bytes == 256 * GIB
    gh = get_hardware("gh200")
    assert gh.host_link.bandwidth_per_direction_bytes_per_s == C2C
    assert gh.memory[gh.offload_tier].capacity_bytes == 480 * GIB  # reuses the LPDDR5X tier, not a copy
    assert get_hardware("h100-pcie").host_link is None


def test_a_host_link_needs_one_memory_and_a_slower_tier():
    base = get_hardware("gh200").model_dump()
    both = {**base, "host_link": {**base["host_link"], "memory_bytes": 1e12}}
    fastest = {**base, "host_link": {**base["host_link"], "memory_tier": "HBM3e"}}
    unknown = {**base, "host_link": {**base["host_link"], "memory_tier": "DDR9"}}
    for bad in (both, fastest, unknown):
        with pytest.raises(GenmodelError):
            HardwareSpec(**bad)


# ---- throughput mode (FlexGen-style) ---------------------------------------------------------------------------
LONG = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "input_tokens": 1024, "output_tokens": 4096}


def test_host_pool_adds_host_bytes_over_kv_bytes_per_token_to_the_running_cap():
    # KV-bound saturated engine (max_seqs lifted): the running batch is N_cap = capacity / tokens held per request
    base = serve(**LONG, request_rate="max", max_seqs=100_000)
    off = serve(**LONG, request_rate="max", max_seqs=100_000, kv_offload="host")
    assert float(off.metrics["kv_host_capacity_bytes"]) == HOST_POOL
    device_tokens = float(base.metrics["kv_capacity_bytes"]) / KV_BYTES_PER_TOKEN
    assert float(off.metrics["kv_capacity_bytes"]) == float(base.metrics["kv_capacity_bytes"])  # HBM unchanged
    host_tokens = HOST_POOL / KV_BYTES_PER_TOKEN  # 2,015,232 tokens
    assert host_tokens == 2_015_232
    # a 1,024-token prompt takes one step (budget 8,192), then D = 4,095 decode steps; a request holds on average
    # (I/2 + D (I + O/2)) / (1 + D) tokens plus half a 16-token page
    D = 4095
    held = (1024 / 2 + D * (1024 + 4096 / 2)) / (1 + D) + off.settings["kv_block_tokens"] / 2
    assert float(base.metrics["running_batch"]) == pytest.approx(device_tokens / held, rel=1e-9)
    assert float(off.metrics["running_batch"]) == pytest.approx((device_tokens + host_tokens) / held, rel=1e-9)
    assert str(base.metrics["bottleneck"]) == "kv memory"


def test_link_bound_step_is_the_offloaded_bytes_over_the_link_bandwidth():
    # 256 running sequences (max_seqs 256, vLLM's limit on devices below 70 GiB; the H100's is 1,024, stated here)
    # of 1,024 + 4,096 tokens do not fit in HBM: each step streams the
    # part beyond device memory over PCIe. Saturated closed loop: x = 256 / (1 + D) requests per step, the tagged
    # request sees 1 + (255/256) x D = 255.94 others, rounded to 256 decoding sequences of I + O/2 tokens each
    off = serve(**LONG, request_rate="max", kv_offload="host", max_seqs=256)
    base = serve(**LONG, request_rate="max", max_seqs=256)
    assert float(off.metrics["running_batch"]) == pytest.approx(256, rel=1e-9)
    device_tokens = float(off.metrics["kv_capacity_bytes"]) / KV_BYTES_PER_TOKEN
    streamed = (256 * (1024 + 4096 / 2) - device_tokens) * KV_BYTES_PER_TOKEN
    step = streamed / PCIE5_X16  # about 0.69 s, far above the HBM-bound step (overlap: the longer one counts)
    # (saturated, a request's life is k_p + D steps of the saturation rate's time-average step, docs/serving.md
    # section 2, whose prompt steps stream the mean count's 256 sequences where the tagged request's own prompt step
    # streams its 255 others: the life and every step in it 2e-6 longer, 1 / 256 of one step in 4,096)
    assert float(off.metrics["tpot_mean_s"]) == pytest.approx(step, rel=1e-5)
    assert float(off.metrics["tpot_mean_s"]) > 5 * float(base.metrics["tpot_mean_s"])
    assert str(off.metrics["bottleneck"]) == "host link"
    # KV in host memory at that load: 256 requests x tokens held, less what device memory holds
    D = 4095
    held = (1024 / 2 + D * (1024 + 4096 / 2)) / (1 + D) + off.settings["kv_block_tokens"] / 2
    assert float(off.metrics["kv_host_bytes"]) == pytest.approx((256 * held - device_tokens) * KV_BYTES_PER_TOKEN,
                                                               rel=1e-9)


def test_nothing_streams_while_the_kv_fits_in_device_memory():
    # (at most 256 running: their KV fits in the H100's memory, so neither run's cap is the KV's)
    kw = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "input_tokens": 1024, "output_tokens": 256,
          "request_rate": 2.0, "max_seqs": 256}
    base, off = serve(**kw), serve(**kw, kv_offload="host")
    for key in ("ttft_p50_s", "ttft_p99_s", "tpot_mean_s", "tpot_p99_s", "e2e_p99_s", "request_rate_per_s"):
        assert float(off.metrics[key]) == pytest.approx(float(base.metrics[key]), rel=1e-12), key
    assert float(off.metrics["kv_host_bytes"]) == 0.0 and float(off.metrics["host_link_utilization"]) == 0.0


def test_gh200_offload_tier_raises_the_kv_bound_saturation_rate():
    kw = {"model": "llama-3.1-8b", "hardware": "gh200", "input_tokens": 8192, "output_tokens": 1024,
          "request_rate": "max"}
    base = serve(**kw)
    assert str(base.metrics["bottleneck"]) == "kv memory"
    assert float(base.metrics["kv_capacity_bytes"]) < 144 * GIB  # the LPDDR5X tier holds no KV without offload
    off = serve(**kw, kv_offload="host")
    assert float(off.metrics["kv_host_capacity_bytes"]) == (480 - 10) * GIB
    assert off.settings["host_link_bytes_per_s"] == C2C
    # the same peak search with a 1-byte pool: what offload adds is the KV the link streams under the step
    none = serve(**kw, kv_offload="host", host_memory_bytes=1)
    assert float(off.metrics["max_request_rate_per_s"]) > float(none.metrics["max_request_rate_per_s"])
    assert float(none.metrics["max_request_rate_per_s"]) >= float(base.metrics["max_request_rate_per_s"])
    assert float(off.metrics["running_batch_at_max_rate"]) > float(base.metrics["running_batch"])
    # filling the whole pool costs TPOT: the saturated engine is link-bound
    assert float(off.metrics["tpot_mean_s"]) > float(base.metrics["tpot_mean_s"])


def test_peak_rate_of_a_step_that_turns_link_bound():
    # decode-only synthetic step: 10 ms up to 50 sequences, then 1 ms per further sequence (a link stream that
    # outgrows the step). The time-average step runs the load's x D decoding sequences: lambda(x) = x / t(x D) peaks
    # where x D = 50: x = 50 / D, lambda = 50 / D / 10 ms
    I, O = 64.0, 101.0
    D = O - 1

    def step(n, p):
        return 0.010 + 1e-3 * np.maximum(np.asarray(n) - 50.0, 0.0) + 0.0 * np.asarray(p)

    req = Requests(np.asarray(I), np.asarray(O))
    sched = Scheduler(4096, 4096, 1000.0, np.asarray(1e12), 1.0)
    x_max = 1000.0 / (1 + D)  # the 1,000-sequence cap: N_run = x (1 + D)
    rate, x = peak_rate(step, req, sched, np.asarray(x_max))
    assert float(x) == pytest.approx(50 / D, rel=0.01)  # within the two grids' resolution (x_max / 48 / 47)
    assert float(rate) == pytest.approx(50 / D / 0.010, rel=0.01)
    m = solve(step, req, sched, Load("max"), peak=True).metrics
    assert float(m["max_request_rate_per_s"]) == pytest.approx(50 / D / 0.010, rel=0.01)
    assert float(m["running_batch_at_max_rate"]) == pytest.approx(50 / D * (1 + D), rel=0.01)


def test_offload_broadcasts_like_single_calls():
    inputs, rates = np.array([2048, 8192]), np.array([[0.2], [0.6]])
    many = serve("llama-3.1-8b", "gh200", inputs, 1024, request_rate=rates, kv_offload="host")
    for i, n in enumerate(inputs):
        for j, lam in enumerate(rates[:, 0]):
            one = serve("llama-3.1-8b", "gh200", int(n), 1024, request_rate=float(lam), kv_offload="host")
            for key in ("tpot_mean_s", "ttft_p99_s", "max_request_rate_per_s", "kv_host_bytes"):
                assert many.metrics[key][j, i] == pytest.approx(float(one.metrics[key]), rel=1e-9), key


# ---- cache mode (LMCache / SGLang HiCache-style) ---------------------------------------------------------------
SHORT = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "input_tokens": 1024, "output_tokens": 128,
         "prefix_hit": 0.5, "max_seqs": 256}


@pytest.mark.parametrize("rate", [1e-3, 5.0])
def test_cache_mode_adds_the_reload_to_ttft_and_leaves_tpot(rate):
    # both runs are capped by 256 sequences (not KV), so they solve the same load; the cache run only waits
    # for its 512 prefix tokens to come over PCIe: 512 x 131,072 B / 64 GB/s = 1.048576 ms
    reload_s = 0.5 * 1024 * KV_BYTES_PER_TOKEN / PCIE5_X16
    base, cache = serve(**SHORT, request_rate=rate), serve(**SHORT, request_rate=rate, kv_offload="cache")
    assert float(cache.metrics["prefix_reload_s"]) == pytest.approx(reload_s, rel=1e-12)
    for key in ("ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "ttft_mean_s", "e2e_p99_s"):
        delta = float(cache.metrics[key]) - float(base.metrics[key])
        assert delta == pytest.approx(reload_s, rel=1e-6), key
    for key in ("tpot_mean_s", "tpot_p99_s", "itl_p99_s", "step_s", "running_batch"):
        assert float(cache.metrics[key]) == pytest.approx(float(base.metrics[key]), rel=1e-12), key
    # each running request holds its own reloaded prefix in HBM (the GPU prefix cache holds one shared copy)
    extra = (float(base.metrics["running_batch"]) - 1) * 512 * KV_BYTES_PER_TOKEN
    gained = float(cache.metrics["kv_cache_bytes"]) - float(base.metrics["kv_cache_bytes"])
    assert gained == pytest.approx(extra, rel=1e-9)
    assert float(cache.metrics["kv_host_capacity_bytes"]) == HOST_POOL


def test_cache_mode_reloads_can_fill_the_link():
    # 99% of a 32,768-token prompt reloaded per request: 32,440 x 131,072 B = 4.25 GB, 66 ms at 64 GB/s, so the
    # link carries at most 64e9 / 4.25e9 = 15.05 requests/s, below what the engine computes
    kw = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "input_tokens": 32768, "output_tokens": 2,
          "prefix_hit": 0.99}
    link_max = PCIE5_X16 / (0.99 * 32768 * KV_BYTES_PER_TOKEN)
    sat = serve(**kw, request_rate="max", kv_offload="cache")
    assert float(sat.metrics["max_request_rate_per_s"]) == pytest.approx(link_max, rel=1e-12)
    assert str(sat.metrics["bottleneck"]) == "host link"
    over = serve(**kw, request_rate=1.1 * link_max, kv_offload="cache")
    assert not bool(over.metrics["stable"]) and np.isinf(float(over.metrics["ttft_p50_s"]))
    under = serve(**kw, request_rate=0.5 * link_max, kv_offload="cache")
    assert float(under.metrics["host_link_utilization"]) == pytest.approx(0.5, rel=1e-9)


# ---- defaults and bad input ----------------------------------------------------------------------------------


def test_default_has_no_offload_fields():
    d = serve(request_rate=4.0).to_dict()
    for key in ("kv_offload", "kv_host_capacity_bytes", "host_link_utilization", "running_batch_at_max_rate"):
        assert key not in d, key


def test_overrides_serve_a_device_without_a_host_link():
    with pytest.raises(ConfigurationError, match="host_link") as err:
        serve(hardware="h100-pcie", request_rate=1.0, kv_offload="host")
    assert err.value.argument == "kv_offload"
    r = serve(hardware="h100-pcie", request_rate=1.0, kv_offload="host", host_memory_bytes=100 * GIB,
              host_link_bytes_per_s=64e9)
    assert float(r.metrics["kv_host_capacity_bytes"]) == 100 * GIB  # given pools are used as they are


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"kv_offload": "disk"}, "kv_offload"), ({"kv_offload": 1}, "kv_offload"),
    ({"kv_offload": "host", "host_memory_bytes": -5e9}, "host_memory_bytes"),
    ({"kv_offload": "host", "host_memory_bytes": float("nan")}, "host_memory_bytes"),
    ({"kv_offload": "cache", "host_link_bytes_per_s": 0}, "host_link_bytes_per_s"),
    ({"host_memory_bytes": 100e9}, "host_memory_bytes"),
])
def test_bad_offload_input_is_one_clear_error(kwargs, argument):
    with pytest.raises(GenmodelError) as err:
        serve(request_rate=1.0, **kwargs)
    assert err.value.argument == argument and "\n" not in str(err.value)


def test_cli_kv_offload(capsys):
    args = ["serve", "--input-tokens", "1024", "--output-tokens", "4096", "--request-rate", "max"]
    assert main([*args, "--kv-offload", "host", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kv_offload"] == "throughput" and data["host_link_bytes_per_s"] == PCIE5_X16
    assert data["kv_host_capacity_bytes"] == HOST_POOL and data["bottleneck"] == "host link"
    assert main([*args, "--kv-offload", "cache", "--prefix-hit", "0.5", "--host-memory", "100 GiB"]) == 0
    assert "KV offload (cache mode)" in capsys.readouterr().out
    for bad in (["--kv-offload", "disk"], ["--kv-offload", "host", "--host-memory", "-5 GiB"],
                ["--kv-offload", "host", "--host-link-bandwidth", "fast"], ["--host-memory", "100 GiB"],
                ["--kv-offload", "host", "--hardware", "h100-pcie"]):
        assert main([*args, *bad]) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: --"), (bad, err)
