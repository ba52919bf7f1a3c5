"""Platform requirements (genmodel.search.requirements, docs/requirements.md): the inverse of the forward model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import genmodel
from genmodel.errors import ConfigurationError
from genmodel.interfaces.cli import app, main
from genmodel.search.requirements import BIG, frontier, requirements

CASE = {"model": "llama-3.1-70b", "input_tokens": 1024, "output_tokens": 256, "ttft_target_s": 0.5,
        "tpot_target_s": 0.03}
LAYOUT = {"tp": 8}


@pytest.fixture(scope="module")
def req():
    return requirements(CASE["model"], 1024, 256, 0.5, 0.03, batch=16, reference="h200-sxm", **LAYOUT)


def _forward(**scales):
    m = genmodel.estimate(CASE["model"], "h200-sxm", 16, 1024, 256, check_fit=False, **LAYOUT, **scales).metrics
    return float(m["ttft_s"]), float(m["tpot_s"]), bool(m["fits"])


def _meets(ttft, tpot, fits, slack=1.0):
    return fits and ttft <= 0.5 * slack and tpot <= 0.03 * slack


def test_the_scaled_reference_meets_every_target_and_five_percent_less_misses(req):
    k = float(req.scaled["scale_factor"])
    assert _meets(*_forward(flops_scale=k, bandwidth_scale=k, capacity_scale=k, interconnect_scale=k), slack=1.01)
    less = 0.95 * k
    assert not _meets(*_forward(flops_scale=less, bandwidth_scale=less, capacity_scale=less,
                                interconnect_scale=less))


@pytest.mark.parametrize("resource, scale", [("flops", "flops_scale"), ("bandwidth", "bandwidth_scale"),
                                             ("interconnect", "interconnect_scale")])
def test_each_floor_is_necessary(req, resource, scale):
    """At its floor (the others unlimited) a resource just meets the targets; 5% below it, it misses one."""
    ref = genmodel.get_hardware("h200-sxm")
    full = {"flops": ref.peak_flops_per_s["bf16"], "bandwidth": ref.fastest_memory.bandwidth_bytes_per_s,
            "interconnect": ref.scale_up.bandwidth_per_direction_bytes_per_s}[resource]
    key = {"flops": "flops_per_s", "bandwidth": "memory_bandwidth_bytes_per_s",
           "interconnect": "interconnect_bandwidth_bytes_per_s"}[resource]
    s = float(req.realistic[key]) / full
    others = {k: BIG for k in ("flops_scale", "bandwidth_scale", "interconnect_scale", "capacity_scale")}
    assert _meets(*_forward(**{**others, scale: s}), slack=1.01)
    assert not _meets(*_forward(**{**others, scale: 0.95 * s}))


def test_the_capacity_floor_is_the_footprint_the_usable_share_must_hold(req):
    ref = genmodel.get_hardware("h200-sxm")
    s = float(req.realistic["memory_capacity_bytes"]) / ref.memory_capacity_bytes
    assert _forward(capacity_scale=s * 1.001)[2]
    assert not _forward(capacity_scale=0.95 * s)[2]
    # ideal: the footprint itself, weights (70.6e9 parameters x 2 bytes over 8 devices) plus KV cache and activations
    assert float(req.ideal["memory_capacity_bytes"]) > 70.55e9 * 2 / 8


def test_ideal_floors_by_hand():
    """Llama-3.1-8B bf16, batch 1, one device, 1,024 + 256 tokens. A decode step reads every weight but the
    embedding table (one row of it) and the KV cache of the mean context; a prefill does 2 FLOPs per weight per
    token plus causal attention. Parameters: 8,030,261,248 published; 128,256 x 4,096 embedding."""
    T_tpot, T_ttft = 0.010, 0.050
    r = requirements("llama-3.1-8b", 1024, 256, T_ttft, T_tpot, batch=1)
    embedding = 128_256 * 4_096
    weights_read = (8_030_261_248 - embedding) * 2
    kv_per_token = 32 * 8 * 128 * 2 * 2  # layers x KV heads x head dim x (K, V) x bf16 bytes
    mean_context = 1024 + 255 / 2  # decode step j attends 1,024 + j tokens, j = 1 ... 255 (mean over steps)
    step_bytes = weights_read + mean_context * kv_per_token
    assert float(r.ideal["memory_bandwidth_bytes_per_s"]) == pytest.approx(step_bytes / T_tpot, rel=0.02)
    prefill_flops = 2 * (8_030_261_248 - 2 * embedding) * 1024 + 2 * 2 * 32 * 4096 * 1024 * 1025 / 2
    assert float(r.ideal["flops_per_s"]) == pytest.approx(prefill_flops / T_ttft, rel=0.03)
    assert float(r.ideal["memory_capacity_bytes"]) > 8_030_261_248 * 2  # weights alone
    assert float(r.realistic["interconnect_bandwidth_bytes_per_s"]) == 0.0  # one device: no link needed


def test_tighter_targets_never_need_less():
    tpots = np.array([0.05, 0.03, 0.02, 0.012])
    r = requirements("llama-3.1-8b", 1024, 256, 0.2, tpots, batch=8)
    assert np.all(np.diff(np.asarray(r.realistic["memory_bandwidth_bytes_per_s"])) > 0)
    assert np.all(np.diff(np.asarray(r.scaled["scale_factor"])) >= 0)
    ttfts = np.array([0.4, 0.2, 0.1, 0.05])
    r = requirements("llama-3.1-8b", 1024, 256, ttfts, 0.05, batch=8)
    assert np.all(np.diff(np.asarray(r.realistic["flops_per_s"])) > 0)


def test_compare_places_real_devices(req):
    r = requirements(CASE["model"], 1024, 256, 0.5, 0.03, batch=16, compare=["h100-sxm", "b200"], **LAYOUT)
    for name, c in r.compare.items():
        m = genmodel.estimate(CASE["model"], name, 16, 1024, 256, check_fit=False, **LAYOUT).metrics
        assert bool(c["meets"]) == _meets(float(m["ttft_s"]), float(m["tpot_s"]), bool(m["fits"]))
        hw = genmodel.get_hardware(name)
        assert float(c["bandwidth_ratio"]) == pytest.approx(
            hw.fastest_memory.bandwidth_bytes_per_s / float(r.realistic["memory_bandwidth_bytes_per_s"]))


def test_frontier_pairs_just_meet(req):
    pairs = frontier(req, "flops", "bandwidth", points=6)
    ref = genmodel.get_hardware("h200-sxm")
    f = pairs["flops_per_s"] / ref.peak_flops_per_s["bf16"]
    b = pairs["memory_bandwidth_bytes_per_s"] / ref.fastest_memory.bandwidth_bytes_per_s
    ok = np.isfinite(b)
    assert ok.sum() >= 3
    for fs, bs in zip(f[ok], b[ok], strict=True):
        assert _meets(*_forward(flops_scale=fs, bandwidth_scale=bs, capacity_scale=BIG), slack=1.01)
        assert not _meets(*_forward(flops_scale=fs, bandwidth_scale=0.95 * bs, capacity_scale=BIG))
    assert np.all(np.diff(b[ok]) <= 0)  # more FLOP/s never needs more bandwidth


def test_served_traffic_requirements_meet_at_the_percentile():
    r = requirements("llama-3.1-8b", 1024, 256, 0.5, 0.03, request_rate=4.0, percentile=0.9)
    k = float(r.scaled["scale_factor"])
    m = genmodel.serve("llama-3.1-8b", "h200-sxm", 1024, 256, request_rate=4.0, percentile=0.9,
                       ttft_target_s=0.5, tpot_target_s=0.03, flops_scale=k, bandwidth_scale=k, capacity_scale=k,
                       interconnect_scale=k).metrics
    assert float(m["ttft_p90_s"]) <= 0.5 * 1.01 and float(m["tpot_p90_s"]) <= 0.03 * 1.01


@pytest.mark.parametrize("kwargs, name", [
    ({"tpot_target_s": 0.001}, "tpot_target_s"), ({"ttft_target_s": None, "tpot_target_s": None}, "ttft_target_s"),
    ({"input_tokens": None}, "input_tokens"), ({"ttft_target_s": -1.0}, "ttft_target_s"),
])
def test_bad_input_names_the_argument(kwargs, name):
    args = {**CASE, **kwargs}
    with pytest.raises(ConfigurationError) as err:
        requirements(args.pop("model"), args.pop("input_tokens"), args.pop("output_tokens"), args.pop("ttft_target_s"),
                     args.pop("tpot_target_s"), batch=16, **LAYOUT)
    assert err.value.argument == name


def test_cli_json_keys_and_errors():
    runner = CliRunner()
    res = runner.invoke(app, ["requirements", "--model", "llama-3.1-70b", "--input-tokens", "1024",
                              "--output-tokens", "256", "--ttft-ms", "500", "--tpot-ms", "30", "--batch", "16",
                              "--tp", "8", "--compare", "h100-sxm,b200", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    for key in ("memory_capacity_bytes", "memory_bandwidth_bytes_per_s", "flops_per_s",
                "interconnect_bandwidth_bytes_per_s", "interconnect_latency_s"):
        assert d[key] > 0 and d["ideal"][key] > 0 and key in d["system"]
    assert d["system"]["flops_per_s"] == pytest.approx(8 * d["flops_per_s"])
    assert d["reference"]["device"] == "h200-sxm" and d["reference"]["scale_factor"] > 0
    assert d["binding"] in ("flops", "bandwidth", "interconnect", "capacity") and d["devices"] == 8
    assert d["compare"]["b200"]["meets"] in (True, False) and "bandwidth_ratio" in d["compare"]["b200"]


def test_cli_reports_a_band_edge_at_which_no_scale_meets_the_targets(capsys):
    # SGLang's eager prompt step bounds DeepSeek-V3's TTFT on 8 devices at 1,263 kernels x 65 us = 82.1 ms (plus the
    # step's host work) whatever the hardware; at the slow edge of the band (TTFT times its upper error factor) a
    # 200 ms target is beyond every scale: the report says so instead of failing (it raised a TypeError)
    args = ["requirements", "--model", "deepseek-v3", "--input-tokens", "1024", "--output-tokens", "256",
            "--ttft-ms", "200", "--tpot-ms", "20", "--devices", "8", "--weight-dtype", "fp8", "--engine", "sglang"]
    assert main([*args, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["unbeatable"]["ttft_s"] > 1263 * 65e-6 and d["reference"]["scale_factor_high"] is None
    assert main(args) == 0
    assert "no scale meets every target" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--tpot-ms", "0.5", "--ttft-ms", "500"], ["--tpot-ms", "-3"],
                                  ["--devices", "0", "--tpot-ms", "30"], ["--reference", "h1000", "--tpot-ms", "30"]])
def test_cli_bad_input_is_one_line_exit_2(args, capsys):
    assert main(["requirements", "--input-tokens", "1024", "--output-tokens", "256", *args]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and not captured.out


def test_each_resource_alone_meets_at_its_factor_and_not_below():
    r = requirements(CASE["model"], 1024, 256, 2.0, 0.03, batch=16, **LAYOUT)
    for resource, scale in (("flops", "flops_scale"), ("bandwidth", "bandwidth_scale"),
                            ("interconnect", "interconnect_scale")):
        s = float(r.scaled["alone"][resource])
        assert np.isfinite(s)
        m = genmodel.estimate(CASE["model"], "h200-sxm", 16, 1024, 256, check_fit=False, **LAYOUT,
                              **{scale: s}).metrics
        assert float(m["ttft_s"]) <= 2.0 * 1.01 and float(m["tpot_s"]) <= 0.03 * 1.01
        m = genmodel.estimate(CASE["model"], "h200-sxm", 16, 1024, 256, check_fit=False, **LAYOUT,
                              **{scale: 0.95 * s}).metrics
        assert float(m["ttft_s"]) > 2.0 or float(m["tpot_s"]) > 0.03
    # where TTFT needs more compute than the reference has, no amount of bandwidth alone meets it
    assert not np.isfinite(float(requirements(CASE["model"], 1024, 256, 0.5, 0.03, batch=16, **LAYOUT)
                                 .scaled["alone"]["bandwidth"]))


def test_layout_search_keeps_the_split_with_the_smallest_scaled_reference():
    best = requirements(CASE["model"], 1024, 256, 0.5, 0.03, batch=16, devices=8)
    lay = best.settings["layout"]
    assert best.devices == 8
    k = float(best.scaled["scale_factor"])
    # every other 8-device split, solved on its own, needs at least as much scaling
    for split in ({"tp": 8}, {"tp": 4, "pp": 2}, {"tp": 2, "pp": 4}, {"tp": 4, "cp": 2}):
        other = requirements(CASE["model"], 1024, 256, 0.5, 0.03, batch=16, **split)
        assert float(other.scaled["scale_factor"]) >= k * (1 - 1e-9), (split, lay)


def test_interconnect_scale_broadcasts_like_the_other_scales():
    """Arrays of link-bandwidth scales give, element by element, what single calls give (the requirement solver
    stacks them)."""
    scales = np.array([0.1, 1.0, 10.0])
    many = genmodel.estimate(CASE["model"], "h200-sxm", 16, 1024, 256, tp=8, interconnect_scale=scales)
    for i, s in enumerate(scales):
        one = genmodel.estimate(CASE["model"], "h200-sxm", 16, 1024, 256, tp=8, interconnect_scale=float(s))
        assert float(many.metrics["tpot_s"][i]) == pytest.approx(float(one.metrics["tpot_s"]), rel=1e-12)
    assert np.all(np.diff(many.metrics["tpot_s"]) < 0)  # faster links, shorter steps


def test_the_future_models_table_in_the_docs_is_what_the_script_computes():
    """docs/requirements.md, "Future models": the table is scripts/future_requirements.py's output."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("future_requirements", root / "scripts" / "future_requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.markdown(module.table())
    assert table in (root / "docs" / "requirements.md").read_text()


def test_arrays_of_lengths_broadcast_with_scalar_targets():
    lengths = np.array([512, 1024, 4096])
    many = requirements("llama-3.1-8b", lengths, 256, 0.5, 0.03, batch=8)
    for i, n in enumerate(lengths):
        one = requirements("llama-3.1-8b", int(n), 256, 0.5, 0.03, batch=8)
        for key in ("flops_per_s", "memory_bandwidth_bytes_per_s", "memory_capacity_bytes"):
            assert float(np.asarray(many.realistic[key])[i]) == pytest.approx(float(one.realistic[key]), rel=1e-9)
        assert float(np.asarray(many.scaled["alone"]["bandwidth"])[i]) == pytest.approx(
            float(one.scaled["alone"]["bandwidth"]), rel=1e-9)
    assert np.all(np.diff(np.asarray(many.realistic["memory_capacity_bytes"])) > 0)  # longer prompts hold more KV


def test_layout_search_under_served_traffic():
    best = requirements("llama-3.1-70b", use_case="chat", devices=8)
    k = float(best.scaled["scale_factor"])
    for split in ({"tp": 8}, {"tp": 4, "pp": 2}, {"tp": 2, "cp": 4}):
        other = requirements("llama-3.1-70b", use_case="chat", **split)
        assert float(other.scaled["scale_factor"]) >= k * (1 - 1e-6), split


def test_floors_carry_the_reference_bands():
    # the band's edges are the floors for the targets moved by the reference's held-out log errors: a measured time
    # is predicted x exp(-r), r in [r_lo, r_hi] (genmodel.engine.uncertainty), so the pessimistic floor (_high) is
    # the floor for T exp(r_lo) and the optimistic one (_low) for T exp(r_hi); checked against separate solves
    from genmodel.engine.uncertainty import MEMORY_BAND_BYTES, band

    kw = {"tp": 4, "reference": "h100-sxm"}
    r = genmodel.requirements("llama-3.1-70b", 2048, 256, ttft_target_s=1.0, tpot_target_s=0.05, **kw)
    # the cells of a replica of four devices, as estimate picks them for this layout
    pre, dec = band("gpu", "vllm", "prefill", devices=4), band("gpu", "vllm", "decode", devices=4)
    for edge, side in (("high", "low"), ("low", "high")):
        moved = genmodel.requirements("llama-3.1-70b", 2048, 256, ttft_target_s=1.0 * np.exp(getattr(pre, side)),
                                      tpot_target_s=0.05 * np.exp(getattr(dec, side)), **kw)
        for key in ("flops_per_s", "memory_bandwidth_bytes_per_s", "interconnect_bandwidth_bytes_per_s"):
            assert r.realistic[f"{key}_{edge}"] == pytest.approx(moved.realistic[key], rel=1e-9)
    for key in ("flops_per_s", "memory_bandwidth_bytes_per_s", "memory_capacity_bytes"):
        assert r.realistic[f"{key}_low"] <= r.realistic[key] <= r.realistic[f"{key}_high"]
    # capacity: +-1.5 GiB of footprint over vLLM's 90% usable share
    assert r.realistic["memory_capacity_bytes_high"] - r.realistic["memory_capacity_bytes"] == pytest.approx(
        MEMORY_BAND_BYTES / 0.9)
    assert r.scaled["scale_factor_low"] <= r.scaled["scale_factor"] <= r.scaled["scale_factor_high"]
    assert "held-out" in r.settings["band_basis"] or "band of" in r.settings["band_basis"]


def test_served_floors_carry_the_served_bands():
    # under an arrival rate the targets hold at a percentile of served traffic, and the floors' band is the one serve
    # gives its figures at that percentile (P90: the cells of the published P90 TTFTs and TPOTs), for a replica of
    # one device: each edge is the floor solved with the targets moved by the band's log errors, checked against
    # separate solves
    from genmodel.engine.uncertainty import band

    kw = {"reference": "h100-sxm", "request_rate": 4.0, "percentile": 0.9}
    r = genmodel.requirements("llama-3.1-8b", 1024, 128, ttft_target_s=0.5, tpot_target_s=0.03, **kw)
    pre = band("gpu", "vllm", "ttft_p90", devices=1, tails=True)
    dec = band("gpu", "vllm", "tpot_p90", devices=1, tails=True)
    served = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 128, request_rate=4.0)
    assert float(served.metrics["tpot_p90_s_high"]) == pytest.approx(
        float(served.metrics["tpot_p90_s"]) * np.exp(-dec.low))  # the band serve gives its P90 TPOT
    assert pre.n > 0 and dec.n > 0 and pre.low < pre.high
    for edge, side in (("high", "low"), ("low", "high")):
        moved = genmodel.requirements("llama-3.1-8b", 1024, 128, ttft_target_s=0.5 * np.exp(getattr(pre, side)),
                                      tpot_target_s=0.03 * np.exp(getattr(dec, side)), **kw)
        for key in ("flops_per_s", "memory_bandwidth_bytes_per_s"):
            assert r.realistic[f"{key}_{edge}"] == pytest.approx(moved.realistic[key], rel=1e-6)
        assert r.scaled[f"scale_factor_{edge}"] == pytest.approx(moved.scaled["scale_factor"], rel=1e-6)
    for key in ("flops_per_s", "memory_bandwidth_bytes_per_s", "memory_capacity_bytes"):
        assert r.realistic[f"{key}_low"] <= r.realistic[key] <= r.realistic[f"{key}_high"]
    assert r.scaled["scale_factor_low"] <= r.scaled["scale_factor"] <= r.scaled["scale_factor_high"]
    assert r.settings["band_basis"].startswith("served rows") and "tpot_p90" in r.settings["band_basis"]
