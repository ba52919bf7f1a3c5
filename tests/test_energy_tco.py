"""Energy and cost against hand arithmetic (docs/energy_tco.md)."""

import numpy as np
import pytest

import genmodel
from genmodel.economics.tco import CostAssumptions
from genmodel.interfaces.cli import main

TDP, IDLE = 500.0, 50.0
W_MEM = 0.66  # envelope weight of a memory-saturated operator (docs/energy_tco.md 1.2)


@pytest.fixture
def powered(toy_hw):
    """The toy device with a power envelope, a price and no kernel overhead (times are pure roofline)."""
    data = toy_hw.model_dump()
    data["efficiency"]["kernel_overhead_s"] = 0.0
    data["power"] = {"tdp_w": TDP, "idle_w": IDLE}
    data["cost"] = {"purchase_usd": 10000.0, "rental_usd_per_hour": 1.0}
    return genmodel.HardwareSpec.model_validate(data)


def test_memory_bound_decode_step_energy_by_hand(toy_model, powered):
    # One decode step at L = 101 is the difference between 2 and 1 output tokens (same prefill). Every operator
    # is memory-bound (busy_m = 1), so P = idle + (TDP - idle)(0.66 + busy_c) and the step's energy is
    # (idle + 0.66 dP) x TPOT + dP x FLOPs / (peak x 0.5): the compute term adds dP for its busy seconds.
    H, F, V, L = 1024, 4096, 1000, 101
    flops = 2 * 2 * (H * 12 * 128 + 8 * 128 * H + 3 * H * F) + 2 * H * V + 2 * 2 * (2 * 8 * 128 * L)
    one = genmodel.estimate(toy_model, powered, batch=1, input_tokens=100, output_tokens=1)
    two = genmodel.estimate(toy_model, powered, batch=1, input_tokens=100, output_tokens=2)
    step = two.energy_per_request_j - one.energy_per_request_j
    d_p = TDP - IDLE
    expected = (IDLE + W_MEM * d_p) * two.tpot_s + d_p * flops / (100e12 * 0.5)
    assert step == pytest.approx(expected, rel=1e-9)
    assert two.energy_per_output_token_j == pytest.approx(two.energy_per_request_j / 2)


def test_compute_bound_prefill_energy_and_cost_by_hand(toy_model, powered):
    # 4096-token prompt, one output token: GEMMs and attention are compute-bound and draw TDP; element-wise
    # kernels, the embedding gather and the one-token LM head are memory-bound at idle + 0.66 dP.
    H, F, V, S, nq, nkv, d = 1024, 4096, 1000, 4096, 8, 2, 128
    gemm_flops = 2 * S * 2 * (H * (nq + 2 * nkv) * d + nq * d * H + 3 * H * F)
    attn_flops = 2 * 2 * (2 * nq * d * S * (S + 1) / 2)
    t_compute = (gemm_flops + attn_flops) / (100e12 * 0.5)
    elementwise = 2 * (4 * S * H + 2 * S * (nq + nkv) * d + 4 * S * H + 3 * S * F)  # per layer, bytes
    head_bytes = H * V * 2 + (H + V) * 2
    mem_bytes = 2 * elementwise + (S * H * 2 + S * H * 2) + 4 * H * 2 + head_bytes
    t_memory = mem_bytes / (1e12 * 0.8)
    t_head_compute = 2 * H * V / (100e12 * 0.5)
    r = genmodel.estimate(toy_model, powered, batch=1, input_tokens=S, output_tokens=1)
    assert r.ttft_s == pytest.approx(t_compute + t_memory, rel=1e-9)
    d_p = TDP - IDLE
    energy = TDP * t_compute + (IDLE + W_MEM * d_p) * t_memory + d_p * t_head_compute
    assert r.energy_per_output_token_j == pytest.approx(energy, rel=1e-9)
    # owned cost: capex 10,000 x 1.6 over 4 years; 5%/year other opex; electricity at the average power for
    # 70% of hours and idle power for 30%, x PUE 1.3 at 0.08 USD/kWh; a busy hour costs hourly / 0.7
    capex = 10000 * 1.6
    avg_w = energy / r.e2e_latency_s
    hourly = capex / (4 * 8760) + capex * 0.05 / 8760 + (avg_w * 0.7 + IDLE * 0.3) * 1.3 / 1000 * 0.08
    assert r.usd_per_device_hour == pytest.approx(hourly, rel=1e-9)
    per_busy_s = hourly / 0.7 / 3600
    assert r.usd_per_million_input_tokens == pytest.approx(per_busy_s * r.ttft_s / S * 1e6, rel=1e-9)
    assert r.usd_per_request == pytest.approx(per_busy_s * r.e2e_latency_s, rel=1e-9)


def test_cost_per_output_token_by_hand(toy_model, powered):
    r = genmodel.estimate(toy_model, powered, batch=4, input_tokens=100, output_tokens=51,
                          costs=CostAssumptions(mode="rented"))
    # rented at 1 USD/h: decode time (e2e - TTFT) of 4 sequences x 50 tokens after the first
    per_busy_s = 1.0 / 0.7 / 3600
    expected = per_busy_s * (r.e2e_latency_s - r.ttft_s) / (4 * 50) * 1e6
    assert r.usd_per_million_output_tokens == pytest.approx(expected, rel=1e-9)


def test_owned_and_rented_agree_at_the_amortized_price(toy_model, powered):
    kw = {"batch": 8, "input_tokens": 512, "output_tokens": 64}
    owned = genmodel.estimate(toy_model, powered, **kw)
    rented = genmodel.estimate(toy_model, powered, **kw, costs=CostAssumptions(
        mode="rented", rental_usd_per_device_hour=owned.usd_per_device_hour))
    for key in ("usd_per_million_output_tokens", "usd_per_million_input_tokens", "usd_per_request"):
        assert rented.metrics[key] == pytest.approx(owned.metrics[key], rel=1e-12)


def test_energy_stays_between_idle_and_tdp_envelopes():
    # single and multi-device, dense and MoE, envelope and coefficient devices
    cases = [("llama-3.1-8b", "h100-sxm", {}), ("llama-3.1-70b", "dgx-h100", {"tp": 8}),
             ("llama-3.1-70b", "dgx-h100", {"tp": 2, "pp": 4}),
             ("deepseek-v3", "dgx-h200", {"tp": 1, "ep": 8, "attention_dp": True, "weight_dtype": "fp8"}),
             ("llama-3.1-8b", "imec-scd-board", {}), ("llama-3.2-1b", "alveo-u280", {"activation_dtype": "int8"})]
    batch = np.array([8, 64, 256])[:, None]
    inputs = np.array([128, 2048, 16384])
    for model, hw, kw in cases:
        r = genmodel.estimate(model, hw, batch=batch, input_tokens=inputs, output_tokens=128, check_fit=False, **kw)
        m = r.metrics
        device = r.hardware
        tdp = device.power.tdp_w
        idle = device.power.idle_w if device.power.idle_w is not None else 0.0
        total = m["energy_per_request_j"] * batch * int(kw.get("dp", 1))
        time_devices = m["e2e_latency_s"] * m["devices"]
        assert np.all(total <= tdp * time_devices * (1 + 1e-9)), (model, hw)
        assert np.all(total >= idle * time_devices * (1 - 1e-9)), (model, hw)
        facility = m["facility_energy_per_output_token_j"] * batch * 128
        assert np.all(facility <= tdp * time_devices * 1.3 * (1 + 1e-9))
        parts = m["energy_static_j"] + m["energy_compute_j"] + m["energy_memory_j"] + m["energy_comm_j"]
        assert np.allclose(parts, total)
        assert np.all(m["peak_power_w"] <= tdp * m["devices"] * (1 + 1e-9))


def test_coefficient_devices_use_their_coefficients():
    for name in ("imec-scd-board", "alveo-u280", "versal-vhk158"):
        assert genmodel.get_hardware(name).energy is not None
    scd = genmodel.get_hardware("imec-scd-board")
    assert scd.energy.cooling_w_per_w > 0  # cryogenic cooling is part of the device's energy


@pytest.mark.parametrize("batch", [1, 64, 1024])
def test_power_cap_stretches_time_and_keeps_the_energy_per_flop(batch):
    # SCD board: 0.045 fJ per bf16 FLOP at 4 K x (1 + 400 W/W of cryocooler) = 18.045 fJ at the wall per FLOP,
    # whatever the batch; the TDP (5 kW, wall) caps power by making a step slower, never by dropping energy
    flop_j = 0.045e-15 * 401
    r = genmodel.estimate("llama-3.1-70b", "imec-scd-board", batch=batch, input_tokens=1024, output_tokens=256,
                          check_fit=False)
    flops = r.prefill_flops + 255 * r.decode_flops
    assert r.energy_compute_j == pytest.approx(flops * flop_j, rel=1e-9)
    assert r.peak_power_w <= 5000 * (1 + 1e-9)


def test_power_bound_step_takes_its_energy_over_the_dynamic_power():
    # SCD board with a small cryocooler (1,000 W/W): a bf16 FLOP costs 0.045 fJ x 1,001 = 45 fJ at the wall, so
    # the 100 PFLOP/s its GEMMs reach (50% of 200) would draw 4.5 kW of the 4 kW above idle: those operators are
    # power-bound and take (FLOPs x 45 fJ + bits moved x J/bit x 1,001) / 4,000 W
    r = genmodel.estimate("llama-3.1-8b", "imec-scd-board", batch=8, input_tokens=4096, output_tokens=2,
                          cooling_w_per_w=1000)
    rows = r.breakdown("prefill")
    power = rows[rows.bound == "power"]
    assert len(power) > 0 and "ffn_gate_up" in set(power.operator)
    tiers = [c for c in rows.columns if c.startswith("bytes_")]
    j_bit = [0.0002e-15, 11e-15]  # JSRAM, cryo-DRAM (per bit at the cold stage)
    energy = (power.flops * 0.045e-15 + sum(power[t] * 8 * j for t, j in zip(tiers, j_bit, strict=True))) * 1001
    assert np.allclose(power.time_s, energy / 4000 + power.overhead_s, rtol=1e-9)
    assert r.inputs["cooling_w_per_w"] == 1000
    # the entry's 400 W/W plant: the same step is faster and cheaper per token
    plant = genmodel.estimate("llama-3.1-8b", "imec-scd-board", batch=8, input_tokens=4096, output_tokens=2)
    assert plant.ttft_s < r.ttft_s and plant.energy_per_output_token_j < r.energy_per_output_token_j


def test_unknown_prices_and_power_are_null_not_guesses(toy_model, toy_hw):
    # the toy device has neither a power block nor a price: energy and owned cost are unknown (JSON null)
    d = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=10, output_tokens=5).to_dict()
    assert d["energy_per_output_token_j"] is None and d["avg_power_w"] is None
    assert d["usd_per_million_output_tokens"] is None
    rented = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=10, output_tokens=5,
                               costs=CostAssumptions(mode="rented", rental_usd_per_device_hour=2.0)).to_dict()
    assert rented["usd_per_million_output_tokens"] > 0  # a given price needs no power figure


def test_cli_estimate_json_has_energy_and_cost_keys(capsys):
    import json

    assert main(["estimate", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("energy_per_output_token_j", "usd_per_million_output_tokens", "avg_power_w"):
        assert data[key] > 0
    assert main(["estimate", "--usd-per-device-hour", "3.0", "--json"]) == 0
    rented = json.loads(capsys.readouterr().out)
    assert rented["usd_per_device_hour"] == 3.0


def test_cli_compare_ranks_by_cost(capsys, tmp_path):
    import csv as csvlib

    csv = tmp_path / "cmp.csv"
    assert main(["compare", "--model", "llama-3.1-8b", "--hardware", "h100-sxm,b200,h200-sxm", "--cost-mode",
                 "rented", "--csv", str(csv)]) == 0
    rows = list(csvlib.DictReader(csv.open()))
    costs = [float(r["usd_per_million_output_tokens"]) for r in rows if r["usd_per_million_output_tokens"]]
    assert len(costs) >= 2 and costs == sorted(costs)
    assert {r["schema_version"] for r in rows} == {"2"} and all(r["database_hash"] for r in rows)
    assert main(["compare", "--sort-by", "fun"]) == 2
