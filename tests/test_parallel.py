"""Multi-device: collectives, per-device memory, pipeline timing, sizing and planning (docs/parallelism.md)."""

import numpy as np
import pytest

import genmodel
from genmodel.data.registry import get_model
from genmodel.engine.collectives import Network, all_reduce, all_to_all, point_to_point
from genmodel.engine.communication import layer_collectives
from genmodel.engine.parallel import Parallelism
from genmodel.errors import ConfigurationError
from genmodel.search.planner import plan, size

# an NVLink-like domain of 8 (450 GB/s per direction, 2 us) joined by 400 Gb/s NICs (50 GB/s, 5 us)
NET = Network(up_bw=450e9, up_latency=2e-6, domain=8, out_bw=50e9, out_latency=5e-6, efficiency=1.0)


def test_ring_all_reduce_large_message_single_tier():
    # ring: 2(n-1) alpha + 2 (n-1)/n M / beta = 28 us + 2 * 7/8 * 1 GB / 450 GB/s
    expected = 2 * 7 * 2e-6 + 2 * 7 / 8 * 1e9 / 450e9
    assert all_reduce(NET, 1e9, 8) == pytest.approx(expected, rel=1e-12)


def test_small_all_reduce_uses_recursive_doubling():
    # 1 kB: ring would cost 28 us of latency; recursive doubling log2(8) (alpha + M/beta) = 3 x 2.002 us
    expected = 3 * (2e-6 + 1e3 / 450e9)
    assert all_reduce(NET, 1e3, 8) == pytest.approx(expected, rel=1e-12)


def test_hierarchical_all_reduce_across_domains():
    # 32 devices = 4 domains of 8: ring all-reduce of 1 GB inside (reduce-scatter + all-gather) and an
    # all-reduce of 1 GB / 8 across the 4 domains over 50 GB/s NICs (ring: 2*3*5 us + 2*3/4*125 MB/50 GB/s)
    inside = 2 * 7 * 2e-6 + 2 * 7 / 8 * 1e9 / 450e9
    across = 2 * 3 * 5e-6 + 2 * 3 / 4 * 125e6 / 50e9
    assert all_reduce(NET, 1e9, 32) == pytest.approx(inside + across, rel=1e-12)


def test_all_to_all_single_tier_and_across_tiers():
    m = 8e6  # bytes each device sends, spread evenly over the group
    assert all_to_all(NET, m, 8) == pytest.approx(7 * 2e-6 + 7 / 8 * m / 450e9, rel=1e-12)
    # 32 devices: 7/32 of the data stays in the domain (NVLink), 24/32 leaves it (NIC); the links run in
    # parallel, so the slower share dominates; latency: 7 NVLink peers + 24 remote peers
    expected = 7 * 2e-6 + 24 * 5e-6 + max(7 / 32 * m / 450e9, 24 / 32 * m / 50e9)
    assert all_to_all(NET, m, 32) == pytest.approx(expected, rel=1e-12)


def test_full_mesh_pair_gets_one_link():
    # MI300X-style switchless mesh of 8: 448 GB/s per direction spread over 7 direct links of 64 GB/s
    mesh = Network(448e9, 2e-6, 8, 50e9, 5e-6, efficiency=1.0, full_mesh=True)
    assert point_to_point(mesh, 64e6, False) == pytest.approx(2e-6 + 64e6 / 64e9, rel=1e-12)
    assert all_reduce(mesh, 1e9, 8) == pytest.approx(2 * 7 * 2e-6 + 2 * 7 / 8 * 1e9 / 448e9, rel=1e-12)


def test_tp_divides_weights_and_kv_with_replicated_norms():
    m = genmodel.get_model("llama-3.1-70b")
    one = genmodel.estimate(m, "dgx-h100", batch=4, input_tokens=1000, output_tokens=24, check_fit=False)
    tp8 = genmodel.estimate(m, "dgx-h100", batch=4, input_tokens=1000, output_tokens=24, tp=8)
    norms = 80 * 2 * 8192 + 8192  # RMSNorm scales are replicated on every rank
    assert tp8.weights_bytes == pytest.approx(((m.total_params - norms) / 8 + norms) * 2, rel=1e-12)
    assert tp8.kv_cache_bytes == pytest.approx(one.kv_cache_bytes / 8, rel=1e-12)  # 8 KV heads, one per rank


def test_tp_beyond_kv_heads_replicates_them():
    # TP 16 on 8 KV heads: every rank still holds one whole KV head (2x the even share)
    r = genmodel.estimate("llama-3.1-70b", "h100-sxm", batch=2, input_tokens=1000, output_tokens=24, tp=16)
    assert r.kv_cache_bytes == 2 * 1024 * 80 * 2 * 1 * 128 * 2


def test_pp_splits_layers_unevenly_and_holds_one_vocabulary_matrix():
    m = genmodel.get_model("llama-3.1-8b")
    r = genmodel.estimate(m, "h100-sxm", batch=1, input_tokens=100, output_tokens=28, pp=3)
    layer = 4096 * 128 * (32 + 16) + 32 * 128 * 4096 + 3 * 4096 * 14336 + 2 * 4096
    # ceil(32 / 3) = 11 layers on the heaviest stage, plus the embedding or the head, plus the final norm
    assert r.weights_bytes == pytest.approx((11 * layer + 128256 * 4096 + 4096) * 2, rel=1e-12)
    assert r.kv_cache_bytes == 11 * 128 * 2 * 8 * 128 * 2


def test_ep_spreads_experts():
    # Mixtral-8x7B, tp 8 with ep 8: each rank holds 1/8 of attention and one whole expert per layer
    m = genmodel.get_model("mixtral-8x7b")
    r = genmodel.estimate(m, "dgx-h100", batch=1, input_tokens=100, output_tokens=28, tp=8, ep=8)
    H = 4096
    attn = (H * 128 * (32 + 16) + 32 * 128 * H) / 8
    layer = attn + 2 * H + H * 8 + 3 * H * 14336  # + norms, replicated router, one expert
    assert r.weights_bytes == pytest.approx((32 * layer + 2 * 32000 * H / 8 + H) * 2, rel=1e-12)


def test_mla_latent_is_replicated_under_tp_but_split_by_attention_dp():
    kw = {"batch": 16, "input_tokens": 1000, "output_tokens": 24, "weight_dtype": "fp8", "kv_dtype": "fp8",
          "check_fit": False}
    tp8 = genmodel.estimate("deepseek-v3", "dgx-h200", tp=8, **kw)
    adp = genmodel.estimate("deepseek-v3", "dgx-h200", tp=1, ep=8, attention_dp=True, **kw)
    full = 16 * 1024 * 61 * 576  # fp8 latent of every sequence
    assert tp8.kv_cache_bytes == full  # each TP rank needs every sequence's whole latent
    assert adp.kv_cache_bytes == full / 8  # each attention group keeps its own 2 sequences


def test_tp8_is_faster_than_tp1_but_not_eight_times():
    kw = {"batch": 8, "input_tokens": 1024, "output_tokens": 128, "check_fit": False}
    tp1 = genmodel.estimate("llama-3.1-70b", "dgx-h100", **kw)  # would not fit; timing only
    tp8 = genmodel.estimate("llama-3.1-70b", "dgx-h100", tp=8, **kw)
    assert tp8.fits and not tp1.fits
    assert tp1.tpot_s / 8 < tp8.tpot_s < tp1.tpot_s
    assert tp8.decode_comm_s > 0


def test_decode_communication_by_hand():
    # Llama-3.1-70B, tp 8 on DGX H100, batch 1: per layer two all-reduces of 1 x 8192 x 2 B = 16 kB
    # (recursive doubling: 3 rounds of 2 us + 16 kB at 0.8 x 450 GB/s), plus the vocabulary-parallel
    # embedding's all-reduce and the LM head's all-gather of 128,256 x 2 B logits (ring).
    bw = 0.8 * 450e9
    ar = 3 * (2e-6 + 16384 / bw)
    ag = 7 * 2e-6 + 7 / 8 * 128256 * 2 / bw
    r = genmodel.estimate("llama-3.1-70b", "dgx-h100", batch=1, input_tokens=512, output_tokens=16, tp=8)
    assert r.decode_comm_s == pytest.approx(160 * ar + ar + ag, rel=1e-9)


def test_a_decode_all_reduce_on_8_h100_sits_with_the_engines_custom_kernels():
    # Llama-3.1-70B at batch 1 on 8 H100: 8,192 bf16 values (16 KB) per all-reduce, recursive doubling on the shipped
    # entry's NVLink (2 us, 450 GB/s at 0.8): 3 x (2 us + 16,384 B / 360 GB/s) = 6.14 us. Published: SGLang's custom
    # all-reduce on 8 H100 takes 5.7 us at 4 KB and 7.8 us at 32 KB (sgl-project/sglang pull request 2904)
    net = Network.of(genmodel.get_hardware("h100-sxm"))
    t = all_reduce(net, 16384.0, 8)
    assert t == pytest.approx(3 * (2e-6 + 16384 / (0.8 * 450e9)), rel=1e-9)
    assert 5.7e-6 <= t <= 7.8e-6


def test_fp8_activations_keep_the_collectives_16_bit():
    # fp8 activations are GEMM inputs only: the GEMMs write bf16, so the TP all-reduces, the logits and the combine
    # of routed experts carry 2 bytes per element; only the expert dispatch goes out in fp8 (1 byte).
    # Llama-3.1-70B (H 8192, 80 layers), tp 8, one token: recursive doubling, 3 rounds of 2 us + 8192 x B bytes.
    llama = get_model("llama-3.1-70b")
    for ab, width in ((1.0, 2), (2.0, 2), (4.0, 4)):
        out = layer_collectives(llama, NET, Parallelism(tp=8), 1, 1, ab, "decode", 0.0, 512)
        assert out["tp_all_reduce"] == pytest.approx(160 * 3 * (2e-6 + 8192 * width / 450e9), rel=1e-12)
    # DeepSeek-V3 (H 7168, 58 MoE layers, 8 routed experts per token), ep 8 with attention data parallelism,
    # 16 tokens: each device sends 16 x 8 x 7168 elements, a direct exchange of (8 - 1) x 2 us + 7/8 of them
    dsv3 = get_model("deepseek-v3")
    out = layer_collectives(dsv3, NET, Parallelism(ep=8, attention_dp=True), 16, 16, 1.0, "decode", 0.0, 512)
    elements = 16 * 8 * 7168
    assert out["ep_dispatch"] == pytest.approx(58 * (7 * 2e-6 + 7 / 8 * elements * 1 / 450e9), rel=1e-12)
    assert out["ep_combine"] == pytest.approx(58 * (7 * 2e-6 + 7 / 8 * elements * 2 / 450e9), rel=1e-12)


def test_pipeline_decode_and_prefill_timing_by_hand(toy_model, toy_hw):
    # toy model (2 layers) on 2 devices, pp 2, batch 2: decode keeps 2 micro-batches of 1 sequence in flight;
    # each stage slot = 1 layer + the model-level operators + one activation send; TPOT = 2 slots.
    from genmodel.specs.hardware import Interconnect

    link = Interconnect(name="link", bandwidth_per_direction_bytes_per_s=100e9, latency_s=1e-6, domain_size=2)
    hw = toy_hw.model_copy(update={"scale_up": link})
    one = genmodel.estimate(toy_model, hw, batch=1, input_tokens=100, output_tokens=2).breakdown("decode")
    layers = one[one.group != "model"].time_s.sum()
    model_level = one[one.group == "model"].time_s.sum()
    send = 1e-6 + 1 * 1024 * 2 / (0.8 * 100e9)
    r = genmodel.estimate(toy_model, hw, batch=2, input_tokens=100, output_tokens=2, pp=2)
    assert r.tpot_s == pytest.approx(2 * (layers / 2 + model_level + send), rel=1e-12)
    # prefill: 2 micro-batches through 2 stages = 3 slots
    pre = genmodel.estimate(toy_model, hw, batch=1, input_tokens=100, output_tokens=1).breakdown("prefill")
    slot = pre[pre.group != "model"].time_s.sum() / 2 + pre[pre.group == "model"].time_s.sum() \
        + 1e-6 + 100 * 1024 * 2 / (0.8 * 100e9)
    r = genmodel.estimate(toy_model, hw, batch=2, input_tokens=100, output_tokens=1, pp=2)
    assert r.ttft_s == pytest.approx(3 * slot, rel=1e-12)


def test_deepseek_v3_needs_more_than_a_node_in_bf16_and_fits_fp8_on_8_h200():
    # bf16: 671e9 x 2 B = 1.34 TB > 8 x 72 GB usable on H100
    assert size("deepseek-v3", "h100-sxm").best.devices > 8
    with pytest.raises(genmodel.DoesNotFitError):
        genmodel.estimate("deepseek-v3", "dgx-h100", tp=8)
    fp8 = genmodel.estimate("deepseek-v3", "dgx-h200", tp=8, weight_dtype="fp8", kv_dtype="fp8")
    assert fp8.fits and fp8.devices == 8
    assert size("deepseek-v3", "h200-sxm", weight_dtype="fp8").best.devices <= 8


def test_planner_results_meet_their_slo_when_re_estimated():
    result = plan("llama-3.1-70b", "dgx-h100", 2048, 256, ttft_s=2.0, tpot_s=0.03, max_devices=16)
    assert len(result.ranked) > 0
    assert np.all(np.diff(result.ranked.output_tokens_per_s_per_device) <= 0)
    assert (result.space.devices <= 16).all() and (result.ranked.devices == 16).any()  # fills the budget
    for row in result.ranked.head(5).itertuples():
        direct = genmodel.estimate("llama-3.1-70b", "dgx-h100", int(row.batch), 2048, 256, tp=int(row.tp),
                                   pp=int(row.pp), dp=int(row.dp), cp=int(row.cp))
        assert direct.ttft_s <= 2.0 and direct.tpot_s <= 0.03
        assert direct.ttft_s == pytest.approx(row.ttft_s) and direct.tpot_s == pytest.approx(row.tpot_s)
        assert direct.output_tokens_per_s_per_device == pytest.approx(row.output_tokens_per_s_per_device)
    # the Pareto front: no fitting configuration beats a front point on both axes
    fits = result.space[result.space.fits]
    for p in result.pareto.itertuples():
        better = fits[(fits.output_tokens_per_s_per_device > p.output_tokens_per_s_per_device)
                      & (fits.tokens_per_s_per_user > p.tokens_per_s_per_user)]
        assert better.empty



def test_planner_targets_at_the_band_edge_are_met_by_the_edge_of_a_direct_estimate():
    # with targets_at='band' a configuration meets a target when the upper edge of its 80% band does: every ranked
    # row re-estimated directly has tpot_s_high <= the target, and the ranking is the estimate-based one without the
    # rows whose band edge is over the target (TPOT target only: TTFT is unconstrained)
    target = 0.03
    edge = plan("llama-3.1-70b", "dgx-h100", 2048, 256, tpot_s=target, max_devices=16, targets_at="band")
    point = plan("llama-3.1-70b", "dgx-h100", 2048, 256, tpot_s=target, max_devices=16)
    assert 0 < len(edge.ranked) < len(point.ranked)
    assert (edge.ranked.tpot_s_high <= target).all() and (point.ranked.tpot_s <= target).all()
    kept = point.ranked[point.ranked.tpot_s_high <= target]
    assert len(kept) == len(edge.ranked)
    for row in edge.ranked.head(3).itertuples():
        direct = genmodel.estimate("llama-3.1-70b", "dgx-h100", int(row.batch), 2048, 256, tp=int(row.tp),
                                   pp=int(row.pp), dp=int(row.dp), cp=int(row.cp))
        assert direct.tpot_s_high <= target and direct.tpot_s_high == pytest.approx(row.tpot_s_high)
    with pytest.raises(ConfigurationError, match="targets_at must be one of"):
        plan("llama-3.1-8b", "h100-sxm", tpot_s=0.02, targets_at="high")


def test_served_planner_targets_at_the_band_edge_are_serves_at_the_moved_targets():
    # under a request rate, targets_at='band' serves each layout with every time at the upper edge of its 80% band:
    # a target T holds there where the estimate meets T x (figure / the figure's upper edge) = T e^(r_lo). Checked
    # against direct serve calls whose factor is read off serve's own figures at the targets' percentile (P99) and
    # their upper edges
    from genmodel.serving.serve import serve

    rate, ttft, tpot = 4.0, 5.0, 0.1  # (loose targets: the P99 TTFT's band reaches 6-16 times the estimate here)
    args = ("llama-3.1-70b", "h100-sxm", 1024, 256)
    edge = plan(*args, ttft_s=ttft, tpot_s=tpot, max_devices=8, request_rate=rate, targets_at="band")
    point = plan(*args, ttft_s=ttft, tpot_s=tpot, max_devices=8, request_rate=rate)
    assert 0 < len(edge.ranked) < len(point.ranked)
    for name in ("ttft_p99_s", "tpot_p99_s", "running_batch"):  # the estimates do not move with the targets
        assert np.array_equal(np.asarray(edge.space[name]), np.asarray(point.space[name]), equal_nan=True)
    stable = [row for row in edge.space.rows() if np.isfinite(row.ttft_p99_s) and np.isfinite(row.tpot_p99_s)]
    assert len(stable) >= 6 and any(row.meets_slo for row in stable) and not all(row.meets_slo for row in stable)
    for row in sorted(stable, key=lambda r: -r.meets_slo)[:6]:
        kw = {"tp": int(row.tp), "pp": int(row.pp), "cp": int(row.cp), "request_rate": rate / int(row.dp)}
        direct = serve(*args, **kw)
        f_ttft = float(direct.metrics["ttft_p99_s"] / direct.metrics["ttft_p99_s_high"])
        f_tpot = float(direct.metrics["tpot_p99_s"] / direct.metrics["tpot_p99_s_high"])
        assert 0 < f_ttft <= 1.5 and 0 < f_tpot <= 1.5
        moved = serve(*args, **kw, ttft_target_s=ttft * f_ttft, tpot_target_s=tpot * f_tpot, percentile=0.99)
        assert bool(moved.metrics["meets_slo"]) == bool(row.meets_slo)
        assert float(moved.metrics["goodput_requests_per_s"]) * int(row.dp) == pytest.approx(
            row.goodput_requests_per_s, rel=1e-9)

def test_planner_writes_csv_and_html(tmp_path):
    result = plan("llama-3.1-8b", "h100-sxm", 512, 64, tpot_s=0.02, max_devices=4)
    result.to_csv(tmp_path / "plan.csv")
    result.plot_html(tmp_path / "plan.html", "test")
    assert (tmp_path / "plan.csv").read_text().startswith("devices,tp,pp")
    html = (tmp_path / "plan.html").read_text()
    assert "Pareto front" in html and 'src="https://cdn.plot.ly' not in html  # plotly.js embedded: offline


def test_vectorized_layouts_match_scalar_estimates():
    from genmodel.engine.parallel import Parallelism

    tp, pp = np.array([1, 2, 4, 8, 2]), np.array([1, 1, 2, 1, 4])
    many = genmodel.estimate("llama-3.1-70b", "dgx-h100", batch=16, input_tokens=1024, output_tokens=64,
                             parallel=Parallelism(tp, pp), check_fit=False)
    for i, (t, p) in enumerate(zip(tp, pp, strict=True)):
        one = genmodel.estimate("llama-3.1-70b", "dgx-h100", batch=16, input_tokens=1024, output_tokens=64,
                                tp=int(t), pp=int(p), check_fit=False)
        for key in ("ttft_s", "tpot_s", "weights_bytes", "kv_cache_bytes", "max_batch", "decode_comm_s"):
            assert many.metrics[key][i] == pytest.approx(one.metrics[key]), key


def test_invalid_splits_name_the_valid_choices():
    with pytest.raises(ConfigurationError, match="valid: 1, 2, 4, 8, 16, 32, 64"):
        genmodel.estimate("llama-3.1-70b", "dgx-h100", tp=6)
    with pytest.raises(ConfigurationError, match="valid: 1, 2, 4, 8, 16, 32, 64, 128, 256"):
        genmodel.estimate("deepseek-v3", "h200-sxm", ep=3, attention_dp=True, weight_dtype="fp8")
    with pytest.raises(ConfigurationError, match="attention data-parallel groups"):
        genmodel.estimate("deepseek-v3", "h200-sxm", batch=4, ep=8, attention_dp=True, weight_dtype="fp8")


def test_context_parallel_splits_long_prefill():
    # Llama-3.1-8B, one 131,000-token prompt: cp ranks each run 1/cp of the prompt's tokens through the layers
    # and 1/cp of the causal attention pairs, keep 1/cp of the KV cache, and all-gather keys and values.
    kw = {"batch": 1, "input_tokens": 131000, "output_tokens": 64}
    one = genmodel.estimate("llama-3.1-8b", "dgx-h100", **kw)
    cp4 = genmodel.estimate("llama-3.1-8b", "dgx-h100", cp=4, **kw)
    assert cp4.devices == 4
    assert cp4.kv_cache_bytes == pytest.approx(one.kv_cache_bytes / 4, rel=1e-12)
    assert cp4.prefill_flops == pytest.approx((one.prefill_flops - 2 * 4096 * 128256) / 4 + 2 * 4096 * 128256,
                                              rel=1e-9)  # the LM head (last token) runs on every rank
    assert one.ttft_s / 4 < cp4.ttft_s < one.ttft_s / 3  # compute-bound prefill, plus the KV all-gathers
    # per layer: all-gather of 131,000 tokens x K and V of 8 KV heads x 128 x 2 B over 4 ranks (ring)
    m = 131000 * 2 * 8 * 128 * 2
    gather = 3 * 2e-6 + 3 / 4 * m / (0.8 * 450e9)
    assert cp4.prefill_comm_s == pytest.approx(32 * gather, rel=1e-9)
    with pytest.raises(ConfigurationError, match="cannot be combined"):
        genmodel.estimate("deepseek-v3", "h200-sxm", ep=8, attention_dp=True, cp=2, batch=8, weight_dtype="fp8")


def test_disaggregation_balances_pools_by_hand():
    from genmodel.search.planner import disaggregate

    d = disaggregate("llama-3.1-8b", "dgx-h100", 2048, 256, ttft_s=1.0, tpot_s=0.02)
    pre, dec = d.prefill, d.decode
    # request rates per device of each pool, from their own figures
    r_p = pre.batch / pre.ttft_s / (pre.devices / pre.dp)
    r_d = dec.batch / dec.tpot_s / (dec.devices / dec.dp) / 256
    assert d.prefill_to_decode_devices == pytest.approx(r_d / r_p, rel=1e-9)
    assert d.output_tokens_per_s_per_device == pytest.approx(256 / (1 / r_p + 1 / r_d), rel=1e-9)
    # KV transfer: the batch's bf16 caches (32 layers x 2 x 8 x 128 x 2 B per token) over 0.8 x 50 GB/s NICs
    kv = pre.batch * 2048 * 32 * 2 * 8 * 128 * 2
    assert d.kv_transfer_s == pytest.approx(kv / (0.8 * 50e9 * pre.devices / pre.dp) + 5e-6, rel=1e-9)
    assert pre.ttft_s + d.kv_transfer_s <= 1.0 and dec.tpot_s <= 0.02


def test_pipeline_communication_reported_is_the_part_inside_tpot():
    # Llama-3.1-70B, tp 2, pp 4 on DGX H100, batch 8: a slot holds 20 of the 80 layers, so it runs 40 of the 160
    # all-reduces (each of 2 x 8192 x 2 B at batch 2 per micro-batch: recursive doubling on 2 devices, one round),
    # the vocabulary collectives once and one stage-to-stage send; TPOT takes 4 slots
    bw = 0.8 * 450e9
    ar = 2e-6 + 2 * 8192 * 2 / bw  # one round of recursive doubling on 2 devices
    ag = 2e-6 + 1 / 2 * 2 * 128256 * 2 / bw  # ring all-gather of 2 sequences' logits over 2 devices
    send = 2e-6 + 2 * 8192 * 2 / (0.8 * 450e9)  # point to point inside the NVLink domain
    r = genmodel.estimate("llama-3.1-70b", "dgx-h100", batch=8, input_tokens=1024, output_tokens=128, tp=2, pp=4)
    assert r.decode_comm_s == pytest.approx(4 * (40 * ar + ar + ag + send), rel=1e-9)
    rows = r.breakdown("decode")
    assert rows[rows.kind == "communication"].time_s.sum() == pytest.approx(r.decode_comm_s, rel=1e-12)
    assert rows.time_s.sum() == pytest.approx(r.tpot_s, rel=1e-12)


def test_breakdowns_sum_to_the_totals_they_explain():
    cases = [("llama-3.1-8b", "h100-sxm", {}), ("llama-3.1-70b", "dgx-h100", {"tp": 4, "pp": 2}),
             ("deepseek-v3", "dgx-h200", {"tp": 1, "ep": 8, "attention_dp": True, "weight_dtype": "fp8",
                                          "comm_overlap": 1.0}),
             ("mixtral-8x7b", "dgx-h100", {"tp": 2, "cp": 2})]
    for model, hw, kw in cases:
        r = genmodel.estimate(model, hw, batch=16, input_tokens=2048, output_tokens=64, check_fit=False, **kw)
        for phase, total, ideal in (("prefill", r.ttft_s, r.ideal_ttft_s), ("decode", r.tpot_s, r.ideal_tpot_s)):
            rows = r.breakdown(phase)
            assert rows.time_s.sum() == pytest.approx(total, rel=1e-12), (model, phase)
            assert rows.ideal_time_s.sum() == pytest.approx(ideal, rel=1e-12), (model, phase)
            assert np.isclose(rows.share.sum(), 1.0)


def test_two_batch_overlap_hides_at_most_the_other_micro_batchs_compute():
    # with overlap f the step runs two half-size micro-batches; per micro-batch min(f M', C') of its collectives
    # M' hide under the other's compute C'. Check by hand from the half-batch step's own parts.
    kw = {"batch": 64, "input_tokens": 1024, "output_tokens": 128, "tp": 8, "check_fit": False}
    for f in (0.25, 0.5, 1.0):
        r = genmodel.estimate("llama-3.1-70b", "dgx-h100", comm_overlap=f, **kw)
        half = genmodel.estimate("llama-3.1-70b", "dgx-h100", **{**kw, "batch": 32})  # one micro-batch, alone
        # host work per step: a + b x sequences in the step (the engine's, stated in the realism record)
        a, b = r.realism.step_overhead_s, r.realism.step_overhead_per_sequence_s
        c, m = half.tpot_s - half.decode_comm_s - (a + 32 * b), half.decode_comm_s  # its compute (host work out)
        assert r.tpot_s == pytest.approx(2 * c + 2 * m - 2 * min(f * m, c) + a + 64 * b, rel=1e-9)
        assert r.decode_comm_s == pytest.approx(2 * m - 2 * min(f * m, c), rel=1e-9)


def test_ideal_is_never_above_the_estimate():
    # the case: DeepSeek-R1 on MI325X boxes, tp 4, ep 32 with attention data parallelism, batch 48; and a
    # grid of layouts, overlaps and batches; the ideal (100% of peaks, perfect overlap) bounds every phase
    r = genmodel.estimate("deepseek-r1", "mi325x-8", batch=48, input_tokens=1024, output_tokens=256, tp=4, ep=32,
                          attention_dp=True, comm_overlap=1.0, weight_dtype="fp8", check_fit=False)
    assert r.ideal_tpot_s <= r.tpot_s and r.ideal_ttft_s <= r.ttft_s
    assert r.decode_comm_s < r.tpot_s
    from genmodel.engine.parallel import Parallelism

    par = Parallelism(tp=np.array([1, 2, 4, 8])[:, None], ep=8, attention_dp=True,
                      comm_overlap=np.array([0.0, 0.5, 1.0])[:, None, None])
    grid = genmodel.estimate("deepseek-v3", "dgx-h200", batch=np.array([8, 64, 512])[:, None, None, None],
                             input_tokens=2048, output_tokens=128, weight_dtype="fp8", parallel=par,
                             check_fit=False)
    m = grid.metrics
    for key in ("ttft_s", "tpot_s", "tpot_final_s", "e2e_latency_s"):
        assert np.all(m[f"ideal_{key}"] <= m[key] * (1 + 1e-12)), key
