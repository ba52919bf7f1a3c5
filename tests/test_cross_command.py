"""Cross-command consistency: the same question asked through different commands (CLI and library, estimate,
compare, size, plan, serve, requirements, sweep) gets the same answer, or the difference the docs state.

Every expected relation below is taken from the docs' definitions (cited at each test), never from reading
genmodel's output back: docs/metrics.md (the keys), docs/energy_tco.md (energy and cost), docs/parallelism.md §3-4
(throughput, size, plan), docs/serving.md (serve), docs/requirements.md (requirements), docs/sweeps.md (sweep).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import genmodel
from genmodel.interfaces.cli import main
from genmodel.search.planner import layouts

GIB = 2.0**30
UNITS = {"B": 1.0, "KiB": 2.0**10, "MiB": 2.0**20, "GiB": 2.0**30, "TiB": 2.0**40}
RTOL = 1e-9  # "the same number": one computation, so only float noise may differ


def cli(capsys, *argv) -> str:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, (code, out, err)
    return out


def cli_json(capsys, *argv) -> dict:
    return json.loads(cli(capsys, *argv, "--json"))


def num(text: str) -> float:
    return float(text.replace(",", ""))


def printed(value: str) -> float:
    """Half a unit of the last printed digit: the most a correctly rounded figure may differ from the exact one."""
    digits = value.replace(",", "").split(".")
    decimals = len(digits[1]) if len(digits) > 1 else 0
    return 0.5 * 10.0**-decimals * (1 + 1e-9)


def assert_rounded(text: str, exact: float, scale: float = 1.0, what: str = ""):
    """``text`` (a printed number, in units of ``scale``) is ``exact`` rounded to the printed digits."""
    assert abs(num(text) - exact / scale) <= printed(text) + 1e-12, (what, text, exact / scale)


# ----------------------------------------------------------------------------------------------------------------
# 1. estimate: CLI JSON == library; the text output == the JSON after the printed rounding (metrics.md: JSON in
#    seconds and bytes, "the text output shows GiB"; times in ms, throughputs in tok/s)
# ----------------------------------------------------------------------------------------------------------------

ESTIMATE_CASES = [
    # (CLI argv, library kwargs)
    (["--model", "llama-3.1-8b", "--hardware", "h100-sxm"], dict(model="llama-3.1-8b", hardware="h100-sxm")),
    (["--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--batch", "16", "--input-tokens", "2048",
      "--output-tokens", "128", "--tp", "4"],
     dict(model="llama-3.1-70b", hardware="h100-sxm", batch=16, input_tokens=2048, output_tokens=128, tp=4)),
    (["--model", "qwen3-30b-a3b", "--hardware", "b200", "--batch", "8", "--weight-dtype", "fp8",
      "--kv-dtype", "fp8"],
     dict(model="qwen3-30b-a3b", hardware="b200", batch=8, weight_dtype="fp8", kv_dtype="fp8")),
]

SCALAR_KEYS = ("ttft_s", "tpot_s", "tpot_final_s", "e2e_latency_s", "output_tokens_per_s", "total_tokens_per_s",
               "decode_tokens_per_s", "prefill_tokens_per_s", "output_tokens_per_s_per_device",
               "tokens_per_s_per_user", "ideal_ttft_s", "ideal_tpot_s", "weights_bytes", "kv_cache_bytes",
               "activation_peak_bytes", "total_memory_bytes", "memory_capacity_bytes", "device_memory_bytes",
               "runtime_reserved_bytes", "max_batch", "energy_per_output_token_j", "energy_per_request_j",
               "avg_power_w", "peak_power_w", "facility_energy_per_output_token_j", "usd_per_device_hour",
               "usd_per_request", "usd_per_million_input_tokens", "usd_per_million_output_tokens", "ttft_s_low",
               "ttft_s_high", "tpot_s_low", "tpot_s_high")


@pytest.mark.parametrize(("argv", "kwargs"), ESTIMATE_CASES)
def test_estimate_cli_json_equals_library(capsys, argv, kwargs):
    data = cli_json(capsys, "estimate", *argv)
    lib = genmodel.estimate(**kwargs)
    for key in SCALAR_KEYS:
        _same(data[key], getattr(lib, key), key)
    assert data["fits"] == bool(lib.fits) and data["bound"] == str(lib.bound)


@pytest.mark.parametrize(("argv", "kwargs"), ESTIMATE_CASES)
def test_estimate_text_agrees_with_json(capsys, argv, kwargs):
    d = cli_json(capsys, "estimate", *argv)
    text = cli(capsys, "estimate", *argv)
    N = r"([\d,]+(?:\.\d+)?)"

    def row(label, unit):  # the first number after the label, in the given unit
        m = re.search(re.escape(label) + r"\s+" + N + r" " + re.escape(unit), text)
        assert m, (label, text)
        return m.group(1)

    def ideal(label, unit):  # the last number of the row: the ideal roofline column
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(label))
        return re.findall(N + r" " + re.escape(unit), line)[-1]

    assert_rounded(row("TTFT (prefill, whole batch)", "ms"), d["ttft_s"], 1e-3, "ttft")
    assert_rounded(row("TPOT (mean over decode steps)", "ms"), d["tpot_s"], 1e-3, "tpot")
    assert_rounded(row("TPOT at final context", "ms"), d["tpot_final_s"], 1e-3, "tpot_final")
    assert_rounded(row("end-to-end latency", "ms"), d["e2e_latency_s"], 1e-3, "e2e")
    assert_rounded(row("output throughput", "tok/s"), d["output_tokens_per_s"], 1.0, "output tok/s")
    assert_rounded(row("total throughput (in + out)", "tok/s"), d["total_tokens_per_s"], 1.0, "total tok/s")
    assert_rounded(row("decode rate (batch / TPOT)", "tok/s"), d["decode_tokens_per_s"], 1.0, "decode tok/s")
    assert_rounded(ideal("TTFT (prefill, whole batch)", "ms"), d["ideal_ttft_s"], 1e-3, "ideal ttft")
    assert_rounded(ideal("TPOT (mean over decode steps)", "ms"), d["ideal_tpot_s"], 1e-3, "ideal tpot")

    # memory: "the text output shows GiB" (binary units, metrics.md)
    def mem(label):
        m = re.search(r"\n\s+" + label + r"\s+" + N + r" (B|KiB|MiB|GiB|TiB)", text)
        assert m, (label, text)
        return m.group(1), UNITS[m.group(2)]

    for label, key in (("weights", "weights_bytes"), ("KV cache", "kv_cache_bytes"),
                       ("activations", "activation_peak_bytes"), ("total", "total_memory_bytes")):
        value, unit = mem(label)
        # printed to 4 significant digits: half a unit of the last digit shown
        assert_rounded(value, d[key], unit, key)
    usable = re.search(r"of " + N + r" GiB usable", text).group(1)
    assert_rounded(usable, d["memory_capacity_bytes"], GIB, "usable")
    assert re.search(r"largest batch that fits: " + f"{d['max_batch']:,}" + r" ", text)

    # energy and cost (energy_tco.md §4: estimate prints them; JSON keys as in its tables)
    m = re.search(r"energy per output token\s+" + N + r" J\s+\(facility: " + N + r" J\); per request " + N + " J",
                  text)
    assert_rounded(m.group(1), d["energy_per_output_token_j"], 1.0, "J/token")
    assert_rounded(m.group(2), d["facility_energy_per_output_token_j"], 1.0, "facility J/token")
    assert_rounded(m.group(3), d["energy_per_request_j"], 1.0, "J/request")
    m = re.search(r"power\s+" + N + r" W average, " + N + r" W peak", text)
    assert_rounded(m.group(1), d["avg_power_w"], 1.0, "avg W")
    assert_rounded(m.group(2), d["peak_power_w"], 1.0, "peak W")
    m = re.search(r"cost per device-hour\s+" + N + r" USD", text)
    assert_rounded(m.group(1), d["usd_per_device_hour"], 1.0, "$/h")
    m = re.search(r"per million tokens\s+" + N + r" USD input, " + N + r" USD output; per request " + N + " USD",
                  text)
    assert_rounded(m.group(1), d["usd_per_million_input_tokens"], 1.0, "$/M in")
    assert_rounded(m.group(2), d["usd_per_million_output_tokens"], 1.0, "$/M out")
    assert_rounded(m.group(3), d["usd_per_request"], 1.0, "$/request")


# ----------------------------------------------------------------------------------------------------------------
# 1b. metrics.md definitions hold between an estimate's own figures (the same quantities, other commands' views)
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [c[1] for c in ESTIMATE_CASES] + [
    dict(model="llama-3.1-70b", hardware="h100-sxm", batch=8, tp=2, pp=2, dp=2),
])
def test_metric_definitions(kwargs):
    e = genmodel.estimate(**kwargs)
    B, I, O = kwargs.get("batch", 1), kwargs.get("input_tokens", 1024), kwargs.get("output_tokens", 256)
    dp = kwargs.get("dp", 1)
    assert e.e2e_latency_s == pytest.approx(e.ttft_s + (O - 1) * e.tpot_s, rel=RTOL)  # metrics.md e2e
    # parallelism.md §3: output_tokens_per_s = dp · b · O / e2e (metrics.md: B × O / e2e for one replica)
    assert e.output_tokens_per_s == pytest.approx(dp * B * O / e.e2e_latency_s, rel=RTOL)
    assert e.total_tokens_per_s == pytest.approx(dp * B * (I + O) / e.e2e_latency_s, rel=RTOL)
    assert e.output_tokens_per_s_per_device == pytest.approx(e.output_tokens_per_s / e.devices, rel=RTOL)
    assert e.tokens_per_s_per_user == pytest.approx(1.0 / e.tpot_s, rel=RTOL)
    assert e.total_memory_bytes == pytest.approx(e.weights_bytes + e.kv_cache_bytes + e.activation_peak_bytes,
                                                 rel=RTOL)
    assert e.tpot_final_s >= e.tpot_s * (1 - 1e-12)  # "the slowest one"
    assert bool(e.fits) == bool(e.total_memory_bytes <= e.memory_capacity_bytes)


# ----------------------------------------------------------------------------------------------------------------
# 7. Energy and TCO (energy_tco.md §1.2 and §2) applied to the estimate's own power and time figures
# ----------------------------------------------------------------------------------------------------------------

ENERGY_CASES = [
    dict(model="llama-3.1-8b", hardware="h100-sxm", batch=8, input_tokens=512, output_tokens=512),
    dict(model="llama-3.1-70b", hardware="h100-sxm", batch=16, input_tokens=2048, output_tokens=128, tp=4),
    dict(model="llama-3.1-70b", hardware="h100-sxm", batch=4, tp=2, pp=2),
    dict(model="llama-3.1-8b", hardware="b200", batch=32, costs=genmodel.CostAssumptions(
        utilization=0.5, pue=1.1, electricity_usd_per_kwh=0.12, amortization_years=5.0)),
]


@pytest.mark.parametrize("kwargs", ENERGY_CASES)
def test_energy_and_cost_follow_the_documented_formulas(kwargs):
    e = genmodel.estimate(**kwargs)
    costs = kwargs.get("costs") or genmodel.CostAssumptions()
    hw = genmodel.get_hardware(kwargs["hardware"])
    B, I, O = kwargs.get("batch", 1), kwargs.get("input_tokens", 1024), kwargs.get("output_tokens", 256)
    n, D = B, e.devices  # one replica (dp 1): n sequences on D devices
    E_total = e.energy_per_request_j * n  # energy_per_request_j = E_total / sequences
    assert e.energy_per_output_token_j == pytest.approx(E_total / (n * O), rel=RTOL)
    assert e.output_tokens_per_j == pytest.approx(n * O / E_total, rel=RTOL)
    assert e.facility_energy_per_output_token_j == pytest.approx(e.energy_per_output_token_j * costs.pue, rel=RTOL)
    assert e.avg_power_w == pytest.approx(E_total / e.e2e_latency_s, rel=RTOL)  # E_total / e2e, all devices
    split = e.energy_static_j + e.energy_compute_j + e.energy_memory_j + e.energy_comm_j
    assert split == pytest.approx(E_total, rel=1e-9)  # "the split of E_total"
    # power can neither fall below every device idling nor exceed every device at TDP (§1.1 envelope model)
    assert D * hw.power.idle_w <= e.avg_power_w <= e.peak_power_w <= D * hw.power.tdp_w * (1 + 1e-9)
    # owned hourly cost of one device (§2)
    u = costs.utilization
    capex = hw.cost.purchase_usd * (1 + costs.system_overhead_fraction)
    p_busy = e.avg_power_w / D
    hourly = (capex / (costs.amortization_years * 8760) + capex * costs.other_opex_fraction_per_year / 8760
              + (p_busy * u + hw.power.idle_w * (1 - u)) * costs.pue * costs.electricity_usd_per_kwh / 1000)
    assert e.usd_per_device_hour == pytest.approx(hourly, rel=1e-9)
    busy = e.usd_per_device_hour / u / 3600  # a busy device-second
    assert e.usd_per_request == pytest.approx(busy * D * e.e2e_latency_s / n, rel=1e-9)
    assert e.usd_per_million_input_tokens == pytest.approx(busy * D * e.ttft_s / (n * I) * 1e6, rel=1e-9)
    assert e.usd_per_million_output_tokens == pytest.approx(
        busy * D * (e.e2e_latency_s - e.ttft_s) / (n * (O - 1)) * 1e6, rel=1e-9)


def test_rented_cost_is_the_hourly_price():
    # energy_tco.md §2: rented = the entry's hourly price; owned and rented agree when the price is the owned cost
    owned = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=8)
    rented = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=8, costs=genmodel.CostAssumptions(
        mode="rented", rental_usd_per_device_hour=float(owned.usd_per_device_hour)))
    for key in ("usd_per_device_hour", "usd_per_request", "usd_per_million_input_tokens",
                "usd_per_million_output_tokens"):
        assert getattr(rented, key) == pytest.approx(getattr(owned, key), rel=1e-9), key
    listed = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=8, costs=genmodel.CostAssumptions(mode="rented"))
    assert listed.usd_per_device_hour == pytest.approx(genmodel.get_hardware("h100-sxm").cost.rental_usd_per_hour)


# ----------------------------------------------------------------------------------------------------------------
# 2. compare == estimate of each device (or model) on the layout it states ("each on the fewest devices that hold
#    it", energy_tco.md §4; "Each device runs the fewest devices that hold the model (genmodel size), split as size
#    chooses", `genmodel compare --help`)
# ----------------------------------------------------------------------------------------------------------------

COMPARE_KEYS = ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s_per_device", "energy_per_output_token_j",
                "avg_power_w", "usd_per_million_input_tokens", "usd_per_million_output_tokens", "usd_per_request",
                "usd_per_device_hour", "total_memory_bytes", "memory_capacity_bytes", "ttft_s_low", "ttft_s_high",
                "tpot_s_low", "tpot_s_high")


def _split(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"(tp|pp|ep|cp|dp)(\d+)", text)}


def _same(row_value, lib_value, key):
    if row_value is None:  # JSON null: the library gives NaN (energy_tco.md: "null in JSON ... never a guess")
        assert lib_value is None or np.isnan(float(lib_value)), key
    else:
        assert float(row_value) == pytest.approx(float(lib_value), rel=RTOL), key


def _check_compare_rows(rows, model_of, hardware_of, batch, I, O):
    for r in rows:
        split = _split(r["split"])
        e = genmodel.estimate(model_of(r), hardware_of(r), batch=batch, input_tokens=I, output_tokens=O, **split)
        assert r["devices"] == e.devices
        for key in COMPARE_KEYS:
            _same(r[key], getattr(e, key), (r.get("hardware"), r.get("model"), key))
        # the layout is size's answer: the fewest devices that hold it
        best = genmodel.size(model_of(r), hardware_of(r), batch=batch, input_tokens=I, output_tokens=O).best
        assert best["devices"] == r["devices"] and _split(r["split"]) == {k: best[k] for k in ("tp", "pp", "ep")}


def _records(table):
    return table.to_records()


def test_compare_hardware_library_and_cli_equal_estimate(capsys):
    hws = ["h100-sxm", "b200", "mi300x", "h200-sxm"]
    lib = _records(genmodel.compare_hardware("llama-3.1-70b", hws, batch=8))
    assert sorted(r["hardware"] for r in lib) == sorted(hws)
    _check_compare_rows(lib, lambda r: "llama-3.1-70b", lambda r: r["hardware"], 8, 1024, 256)
    data = cli_json(capsys, "compare", "--model", "llama-3.1-70b", "--hardware", ",".join(hws), "--batch", "8")
    assert [r["hardware"] for r in data["rows"]] == [r["hardware"] for r in lib]
    for a, b in zip(data["rows"], lib, strict=True):
        for key in (*COMPARE_KEYS, "devices", "split"):
            if isinstance(b[key], str):
                assert a[key] == b[key]
            else:
                _same(a[key], b[key], key)
    # sorted by cost (the default): lowest $/M output first, rows without a price (n/a) last
    costs = [r["usd_per_million_output_tokens"] for r in data["rows"]]
    known = [c for c in costs if c is not None]
    assert known == sorted(known) and costs[:len(known)] == known


def test_compare_models_equals_estimate():
    models = ["llama-3.1-8b", "llama-3.1-70b", "qwen3-30b-a3b"]
    rows = _records(genmodel.compare_models(models, "h100-sxm", batch=4, input_tokens=2048, output_tokens=128))
    assert sorted(r["model"] for r in rows) == sorted(models)
    _check_compare_rows(rows, lambda r: r["model"], lambda r: "h100-sxm", 4, 2048, 128)


# ----------------------------------------------------------------------------------------------------------------
# 3. size and plan (parallelism.md §4)
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "hardware", "batch"), [
    ("llama-3.1-70b", "h100-sxm", 8),
    ("llama-3.1-405b", "h100-sxm", 1),
    ("qwen3-30b-a3b", "l40s", 16),
])
def test_size_is_the_fewest_devices_that_fit(capsys, model, hardware, batch):
    best = genmodel.size(model, hardware, batch=batch).best
    layout = {k: best[k] for k in ("tp", "pp", "ep", "dp", "cp", "attention_dp")}
    e = genmodel.estimate(model, hardware, batch=batch, **layout)
    assert bool(e.fits) and e.devices == best["devices"]
    for key in ("ttft_s", "tpot_s", "total_memory_bytes", "memory_capacity_bytes", "max_batch"):
        assert best[key] == pytest.approx(float(getattr(e, key)), rel=RTOL), key
    # the CLI answers the same
    data = cli_json(capsys, "size", "--model", model, "--hardware", hardware, "--batch", str(batch))
    assert data["devices"] == best["devices"] and data["tp"] == best["tp"] and data["pp"] == best["pp"]
    assert data["tpot_s"] == pytest.approx(best["tpot_s"], rel=RTOL)
    # "the fewest devices": no layout of one device fewer holds the workload (the search space of §4)
    fewer = best["devices"] - 1
    if fewer >= 1:
        space = layouts(genmodel.get_model(model), fewer)
        devs = space["tp"] * space["pp"] * space["cp"] * np.where(space["attention_dp"], 1, 1)
        pick = devs == fewer
        assert pick.any()
        tried = 0
        for i in np.flatnonzero(pick):
            kw = {k: (bool(space[k][i]) if k == "attention_dp" else int(space[k][i])) for k in space}
            try:
                small = genmodel.estimate(model, hardware, batch=batch, check_fit=False, **kw)
            except genmodel.ConfigurationError:
                continue
            if small.devices != fewer:
                continue
            tried += 1
            assert not bool(small.fits), kw
        assert tried > 0


PLAN_CASES = [
    ("llama-3.1-70b", "h100-sxm", 1024, 256, 1.0, 0.05, {}),
    ("qwen3-30b-a3b", "h100-sxm", 2048, 256, 0.5, 0.03, {"max_devices": 4}),
]


@pytest.mark.parametrize(("model", "hardware", "I", "O", "ttft", "tpot", "kw"), PLAN_CASES)
def test_plan_rows_reproduce_with_estimate_and_meet_targets(capsys, model, hardware, I, O, ttft, tpot, kw):
    p = genmodel.plan(model, hardware, I, O, ttft_s=ttft, tpot_s=tpot, **kw)
    rows = p.ranked.to_records()
    assert rows
    budget = kw.get("max_devices", 8)
    skip = {"devices", "tp", "pp", "ep", "dp", "cp", "attention_dp", "batch", "meets_slo"}
    for r in rows[:12]:
        layout = {k: r[k] for k in ("tp", "pp", "ep", "dp", "cp", "attention_dp")}
        e = genmodel.estimate(model, hardware, batch=r["batch"], input_tokens=I, output_tokens=O, **layout)
        assert e.devices == r["devices"] <= budget
        for key in p.ranked.columns:
            if key not in skip:
                _same(r[key], getattr(e, key), (layout, r["batch"], key))
        # plan keeps those with TTFT <= target and TPOT <= target, that fit
        assert r["meets_slo"] and bool(e.fits) and e.ttft_s <= ttft and e.tpot_s <= tpot
        # dp = floor(budget / replica devices)
        assert r["dp"] == budget // (r["devices"] // r["dp"])
    # ranked by output tokens/s per device, best first
    thr = [r["output_tokens_per_s_per_device"] for r in rows]
    assert thr == sorted(thr, reverse=True)
    # the CLI's plan has the same best row
    argv = ["plan", "--model", model, "--hardware", hardware, "--input-tokens", str(I), "--output-tokens", str(O),
            "--ttft-ms", str(ttft * 1e3), "--tpot-ms", str(tpot * 1e3)]
    if "max_devices" in kw:
        argv += ["--max-devices", str(kw["max_devices"])]
    data = cli_json(capsys, *argv)
    first = data["configurations"][0]
    for key in ("tp", "pp", "ep", "dp", "cp", "batch"):
        assert first[key] == rows[0][key], key
    assert first["tpot_s"] == pytest.approx(rows[0]["tpot_s"], rel=RTOL)


# ----------------------------------------------------------------------------------------------------------------
# 4. serve at a vanishing request rate == estimate at batch 1
# serving.md §1: serve's step "is the roofline step of `estimate` with the prompt tokens riding along"; attention
# is "the decode attention of the n sequences at their mean context (I + O/2) plus the prefill attention of the p
# tokens' prompts". §3: TTFT = R + B + W with R = 0 when the engine is idle (probability e^(-N_run)) and no waits
# when nothing queues; TPOT = the mean of its steps. At 1e-4 requests/s a replica runs ~1.6e-4 requests on
# average, so R and W are below 1e-5 of the figures: a lone prompt that fits one step's token budget (T = 8,192
# on an H100, §1's table) is one prefill step of batch 1, and its decode steps are estimate's batch-1 steps at the
# mean context. Tolerance 1e-3 covers R, W and the mean-context form of TPOT.
# ----------------------------------------------------------------------------------------------------------------

SERVE_CASES = [
    ("llama-3.1-8b", "h100-sxm", 1024, 256, {}),
    ("llama-3.1-8b", "h100-sxm", 4096, 128, {}),
    ("llama-3.1-70b", "h200-sxm", 2048, 128, {"weight_dtype": "fp8"}),
    ("qwen3-30b-a3b", "h100-sxm", 1024, 256, {}),
]


@pytest.mark.parametrize(("model", "hardware", "I", "O", "kw"), SERVE_CASES)
def test_serve_at_low_rate_tpot_equals_estimate_batch_1(model, hardware, I, O, kw):
    e = genmodel.estimate(model, hardware, batch=1, input_tokens=I, output_tokens=O, **kw)
    s = genmodel.serve(model, hardware, I, O, request_rate=1e-4, **kw)
    assert float(s.running_batch) < 1e-2  # one request at a time
    assert float(s.tpot_mean_s) == pytest.approx(float(e.tpot_s), rel=1e-3)
    assert float(s.tpot_p50_s) == pytest.approx(float(e.tpot_s), rel=1e-3)


@pytest.mark.parametrize(("model", "hardware", "I", "O", "kw"), SERVE_CASES)
def test_serve_at_low_rate_ttft_equals_estimate_batch_1(model, hardware, I, O, kw):
    # serving.md 1: a lone prompt's step in serve is a decode step carrying the prompt as a chunk; it holds "the decode
    # attention of the n sequences" (n = 0 here: nothing) and the prompt's own prefill attention, so at a rate where
    # the waiting terms are negligible (serving.md 3) its TTFT is estimate's batch-1 TTFT. (Found by this test: the
    # decode attention rows charged a launch and a floor per layer at n = 0, and read the prompt's queries a second
    # time: +0.81% for llama-3.1-8b on h100-sxm, 1,024 tokens, before the fix in genmodel/engine/operators.py.)
    e = genmodel.estimate(model, hardware, batch=1, input_tokens=I, output_tokens=O, **kw)
    s = genmodel.serve(model, hardware, I, O, request_rate=1e-4, **kw)
    assert float(s.ttft_mean_s) == pytest.approx(float(e.ttft_s), rel=1e-3)
    assert float(s.e2e_mean_s) == pytest.approx(float(e.e2e_latency_s), rel=1e-3)


def test_serve_long_prompt_is_chunked_at_the_token_budget():
    # serving.md §1: at most T tokens per step (8,192 on an H100 under vLLM): a 16,000-token prompt takes two
    # steps, each reading the weights again, where estimate's prefill is one pass. Documented difference: serve's
    # TTFT is then longer than estimate's, never shorter.
    e = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1, input_tokens=16000, output_tokens=128)
    s = genmodel.serve("llama-3.1-8b", "h100-sxm", 16000, 128, request_rate=1e-4)
    assert float(s.ttft_mean_s) > float(e.ttft_s)
    assert float(s.tpot_mean_s) == pytest.approx(float(e.tpot_s), rel=1e-3)


# ----------------------------------------------------------------------------------------------------------------
# 5. requirements: compared devices' verdicts (requirements.md §3: "runs each device forward on the same layout ...
#    `meets` uses the device's own [efficiencies]") == estimate on the same layout, static batch
# ----------------------------------------------------------------------------------------------------------------

REQ_CASES = [
    # model, I, O, ttft, tpot, batch, layout, compared devices
    ("llama-3.1-70b", 1024, 256, 0.5, 0.03, 16, {"tp": 8}, ["h100-sxm", "b200", "mi300x"]),
    ("llama-3.1-8b", 2048, 256, 0.1, 0.01, 4, {}, ["h100-sxm", "a100-80gb-sxm", "l40s", "b200"]),
]


@pytest.mark.parametrize(("model", "I", "O", "ttft", "tpot", "batch", "layout", "devices"), REQ_CASES)
def test_requirements_verdicts_match_estimate(capsys, model, I, O, ttft, tpot, batch, layout, devices):
    r = genmodel.requirements(model, I, O, ttft, tpot, batch=batch, compare=devices, **layout)
    verdicts = r.to_dict()["compare"]
    seen = set()
    for hw in devices:
        v = verdicts[hw]
        e = genmodel.estimate(model, hw, batch=batch, input_tokens=I, output_tokens=O, check_fit=False, **layout)
        assert v["fits"] == bool(e.fits), hw
        if v["fits"]:
            assert v["ttft_s"] == pytest.approx(float(e.ttft_s), rel=RTOL), hw
            assert v["tpot_s"] == pytest.approx(float(e.tpot_s), rel=RTOL), hw
        meets = bool(e.fits) and e.ttft_s <= ttft and e.tpot_s <= tpot
        assert v["meets"] == meets, (hw, v, float(e.ttft_s), float(e.tpot_s))
        seen.add(meets)
    assert seen == {True, False}  # the cases hold a device that meets and one that misses
    # the CLI's verdict lines say the same
    argv = ["requirements", "--model", model, "--input-tokens", str(I), "--output-tokens", str(O), "--ttft-ms",
            str(ttft * 1e3), "--tpot-ms", str(tpot * 1e3), "--batch", str(batch), "--compare", ",".join(devices)]
    for k, v in layout.items():
        argv += [f"--{k}", str(v)]
    text = cli(capsys, *argv)
    for hw in devices:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(hw + ":"))
        assert ("meets every target" in line) == verdicts[hw]["meets"], line


def test_requirements_batch_use_case_verdicts_match_estimate():
    # a batch-mode use case (deep-research: batch 1, 100,000 + 685 tokens, TTFT 6 s, TPOT 175 ms; requirements.md
    # §5b "a batch-mode case is solved in closed form"): each compared device's verdict is estimate's on the lengths
    uc = genmodel.get_use_case("deep-research")
    devices = ["h100-sxm", "b200", "l40s", "a100-80gb-sxm"]
    r = genmodel.requirements("llama-3.1-8b", use_case="deep-research", compare=devices)
    verdicts = r.to_dict()["compare"]
    I, O = round(uc.input_tokens), round(uc.output_tokens)
    for hw in devices:
        e = genmodel.estimate("llama-3.1-8b", hw, batch=uc.batch, input_tokens=I, output_tokens=O, check_fit=False)
        meets = bool(e.fits) and e.ttft_s <= uc.ttft_target_s and e.tpot_s <= uc.tpot_target_s
        assert verdicts[hw]["meets"] == meets, (hw, verdicts[hw], float(e.ttft_s), float(e.tpot_s))


# ----------------------------------------------------------------------------------------------------------------
# 6. sweep == estimate for sampled configurations (sweeps.md §8: "It evaluates `estimate`'s static batch";
#    use cases give "their mean prompt and output lengths (rounded) and TTFT/TPOT targets", meets_targets = fits,
#    TTFT and TPOT within them; the case's load, percentile and sequences per prompt are not used)
# ----------------------------------------------------------------------------------------------------------------

SWEEP_SPEC = {
    "models": ["llama-3.1-8b", "qwen3-30b-a3b"],
    "hardware": ["h100-sxm", "mi300x"],
    "datatypes": [{"weight": "bf16"}, {"weight": "fp8", "activation": "fp8", "kv": "fp8"}],
    "layouts": {"tp": [1, 2]},
    "use_cases": ["chat", "summarization"],
    "batch": [1, 16],
    "bandwidth_scale": [1.0, 1.5],
    "metrics": ["ttft_s", "tpot_s", "output_tokens_per_s_per_device", "tokens_per_s_per_user", "total_memory_bytes",
                "fits", "meets_targets", "energy_per_output_token_j", "usd_per_million_output_tokens"],
}


def test_sweep_rows_equal_estimate(capsys, tmp_path):
    res = genmodel.sweep(SWEEP_SPEC)
    cols = res.columns
    n = len(cols["config"])
    assert n == 2 * 2 * 2 * 2 * 2 * 2 * 2
    rng = np.random.default_rng(0)
    for i in sorted(rng.choice(n, size=12, replace=False)):
        uc = genmodel.get_use_case(str(cols["use_case"][i]))
        I, O = int(cols["input_tokens"][i]), int(cols["output_tokens"][i])
        assert (round(uc.input_tokens), round(uc.output_tokens)) == (I, O)
        e = genmodel.estimate(str(cols["model"][i]), str(cols["hardware"][i]), batch=int(cols["batch"][i]),
                              input_tokens=I, output_tokens=O, weight_dtype=str(cols["weight_dtype"][i]),
                              activation_dtype=str(cols["activation_dtype"][i]), kv_dtype=str(cols["kv_dtype"][i]),
                              tp=int(cols["tp"][i]), bandwidth_scale=float(cols["bandwidth_scale"][i]),
                              check_fit=False)
        for key in ("ttft_s", "tpot_s", "output_tokens_per_s_per_device", "tokens_per_s_per_user",
                    "total_memory_bytes", "energy_per_output_token_j", "usd_per_million_output_tokens"):
            _same(cols[key][i], getattr(e, key), (i, key))
        assert bool(cols["fits"][i]) == bool(e.fits)
        meets = bool(e.fits) and e.ttft_s <= uc.ttft_target_s and e.tpot_s <= uc.tpot_target_s
        assert bool(cols["meets_targets"][i]) == meets, i


def test_sweep_cli_counts_equal_library(capsys, tmp_path):
    import yaml

    spec = dict(SWEEP_SPEC, name="cross")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    res = genmodel.sweep(spec)
    text = cli(capsys, "sweep", str(path))
    cols = res.columns
    fits, meets = int(np.sum(cols["fits"])), int(np.sum(cols["meets_targets"]))
    m = re.search(r"valid ([\d,]+); fit in memory ([\d,]+); meet their use case's targets ([\d,]+)", text)
    assert m, text
    assert (num(m.group(2)), num(m.group(3))) == (fits, meets)


# ----------------------------------------------------------------------------------------------------------------
# 8. vectorized library calls == elementwise single calls
# ----------------------------------------------------------------------------------------------------------------

VEC_KEYS = ("ttft_s", "tpot_s", "tpot_final_s", "e2e_latency_s", "output_tokens_per_s", "total_memory_bytes",
            "kv_cache_bytes", "max_batch", "energy_per_output_token_j", "usd_per_million_output_tokens",
            "ttft_s_high", "tpot_s_low")


def test_vectorized_estimate_equals_single_calls():
    batch = np.array([1, 4, 32, 128])
    inp = np.array([[128], [1024], [8192]])
    v = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=batch, input_tokens=inp, output_tokens=256,
                          check_fit=False)
    for j, I in enumerate(inp[:, 0]):
        for k, B in enumerate(batch):
            s = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=int(B), input_tokens=int(I), output_tokens=256,
                                  check_fit=False)
            for key in VEC_KEYS:
                assert np.asarray(getattr(v, key))[j, k] == pytest.approx(float(getattr(s, key)), rel=1e-9), \
                    (I, B, key)


def test_vectorized_layouts_equal_single_calls():
    tp = np.array([1, 2, 4, 8])
    v = genmodel.estimate("llama-3.1-70b", "h100-sxm", batch=8, tp=tp, check_fit=False)
    for k, t in enumerate(tp):
        s = genmodel.estimate("llama-3.1-70b", "h100-sxm", batch=8, tp=int(t), check_fit=False)
        for key in VEC_KEYS:
            assert np.asarray(getattr(v, key))[k] == pytest.approx(float(getattr(s, key)), rel=1e-9), (t, key)
        assert bool(np.asarray(v.fits)[k]) == bool(s.fits)


def test_vectorized_serve_equals_single_calls():
    rates = np.array([0.5, 2.0, 8.0])
    v = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=rates)
    for k, r in enumerate(rates):
        s = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=float(r))
        for key in ("ttft_p50_s", "ttft_p99_s", "tpot_mean_s", "tpot_p99_s", "e2e_mean_s", "running_batch",
                    "output_tokens_per_s"):
            assert np.asarray(getattr(v, key))[k] == pytest.approx(float(getattr(s, key)), rel=1e-9), (r, key)


def test_serve_prints_the_per_user_rate_its_json_gives(capsys):
    # serve's text and JSON give the same per-user rate (1 / mean TPOT) and band; estimate at batch 1 gives the same
    # rate as a lone request served at a vanishing rate (section 4 above: their TPOTs agree)
    argv = ("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--concurrency", "8")
    d = cli_json(capsys, *argv)
    line = next(x for x in cli(capsys, *argv).splitlines() if x.strip().startswith("per user"))
    assert line == (f"  per user {d['tokens_per_s_per_user']:,.1f} output tok/s (1 / mean TPOT; 80% band "
                    f"{d['tokens_per_s_per_user_low']:,.1f} to {d['tokens_per_s_per_user_high']:,.1f})")
    assert d["tokens_per_s_per_user"] == pytest.approx(1.0 / d["tpot_mean_s"], rel=RTOL)
    lone = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=1e-4).metrics
    alone = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1, input_tokens=1024, output_tokens=256).metrics
    assert float(lone["tokens_per_s_per_user"]) == pytest.approx(float(alone["tokens_per_s_per_user"]), rel=1e-3)
