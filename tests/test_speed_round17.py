"""The helpers of the seventeenth speed round (issue 14) give the numbers of the code they replace, bit for bit: the
distinct values of a layout array found by comparisons (``memory._first_and_codes``, in place of ``np.unique``), and
the collectives of a step without the selection of groups of several devices around them
(``communication._of_several``), which relies on a collective of one device costing exactly +0.0 in
genmodel.engine.collectives. Each is compared with the plain NumPy expression it replaces. No timing is asserted here
(benchmarks/ measure speed).
"""

import numpy as np
import pytest

from genmodel.data.registry import get_model
from genmodel.engine import memory
from genmodel.engine.collectives import Network, all_gather, all_reduce, all_to_all, reduce_scatter
from genmodel.engine.communication import layer_collectives
from genmodel.engine.parallel import Parallelism


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    floats = a.dtype.kind == "f"
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=floats) \
        and (not floats or np.array_equal(np.signbit(a), np.signbit(b)))


@pytest.mark.parametrize("values", [
    [8], [1, 2, 4, 8], [8, 1, 4, 2], [-3, 7, 0, -1], list(range(1, 1 + memory.FEW_DISTINCT)),  # found by comparisons
    list(range(1, 2 + memory.FEW_DISTINCT)), list(range(-500, 500)),  # more distinct values: np.unique itself
])
@pytest.mark.parametrize("n", [1, 5, 3000])
def test_first_and_codes_is_np_unique(values, n):
    rng = np.random.default_rng(len(values) * n)
    x = rng.choice(np.array(values, dtype=np.int64), n)
    want = np.unique(x, return_index=True, return_inverse=True)[1:]
    got = memory._first_and_codes(x)
    assert all(_same(g, w) for g, w in zip(got, want, strict=True))


def test_first_and_codes_of_float_bits_and_an_empty_array():
    # the bits of floats (as ``_distinct_layouts`` reads them: 0.0 and -0.0 differ, negative floats order backwards)
    x = np.array([2.0, -0.0, 0.0, -1.5, 2.0, 8.0, -0.0]).view(np.int64)
    want = np.unique(x, return_index=True, return_inverse=True)[1:]
    assert all(_same(g, w) for g, w in zip(memory._first_and_codes(x), want, strict=True))
    empty = np.zeros(0, dtype=np.int64)
    want = np.unique(empty, return_index=True, return_inverse=True)[1:]
    assert all(_same(g, w) for g, w in zip(memory._first_and_codes(empty), want, strict=True))


# one domain of 8 devices and a second tier (groups of 16 span two domains); a switchless full mesh as well
NETS = [Network(up_bw=450e9, up_latency=2e-6, domain=8, out_bw=50e9, out_latency=5e-6),
        Network(up_bw=64e9, up_latency=3e-6, domain=8, out_bw=50e9, out_latency=5e-6, full_mesh=True)]


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("collective", [all_reduce, all_gather, reduce_scatter, all_to_all])
def test_a_collective_of_one_device_costs_exactly_zero(net, collective):
    # what ``_of_several`` relies on: np.where(n > 1, cost, 0.0) is the cost itself, for any message (NaN and
    # infinite ones included), with a leading [real, ideal] axis on the bandwidth as the step passes it
    rng = np.random.default_rng(3)
    n = rng.choice([1.0, 2.0, 4.0, 8.0, 16.0], 400)
    m = rng.random(400) * 10.0 ** rng.integers(0, 9, 400)
    m[:4] = [np.nan, np.inf, 0.0, 1.0]
    n[:4] = 1.0
    for efficiency in (0.8, np.array([0.8, 1.0]).reshape(2, 1)):
        with np.errstate(invalid="ignore"):  # (0 x inf in the unselected terms of an infinite message)
            cost = collective(net.scaled(efficiency=efficiency), m, n)
        assert _same(cost, np.where(n > 1, cost, 0.0))


@pytest.mark.parametrize("attention_dp", [True, False, "array"])
def test_layer_collectives_equal_the_selections_they_left_out(attention_dp):
    # the collectives of DeepSeek-V3 (MoE with a shared expert, fp8 dispatch) and Mixtral (no shared expert) over
    # arrays of layouts, against each collective with the selection np.where(group of several, cost, 0.0) made
    rng = np.random.default_rng(5)
    n = 300
    tp = rng.choice([1, 2, 4, 8], n)
    ep = rng.choice([1, 2, 8], n)
    adp = rng.random(n) < 0.5 if attention_dp == "array" else attention_dp
    tokens = rng.integers(1, 4096, n).astype(float)
    net = NETS[0]
    for name, ab in (("deepseek-v3", 1.0), ("mixtral-8x7b", 2.0)):
        model = get_model(name)
        out = layer_collectives(model, net, Parallelism(tp=tp, ep=ep, attention_dp=adp), tokens, tokens, ab,
                                "decode", 0.0, 512)
        H, L, k = model.hidden_size, model.num_layers, model.moe.experts_per_token
        t = tp.astype(float)
        ar = np.where(t > 1, all_reduce(net, tokens * H * 2.0, t), 0.0)
        several = np.asarray(adp) & (ep > 1)
        a2a = np.where(several, all_to_all(net, tokens * k * H / t * ab, ep.astype(float)), 0.0)
        back = np.where(several, all_to_all(net, tokens * k * H / t * 2.0, ep.astype(float)), 0.0)
        shared = ar if model.moe.num_shared_experts else 0.0
        n_moe = model.num_moe_layers
        tp_ar = (L + L - n_moe) * ar + n_moe * np.where(adp, shared, ar)
        gather = np.where(t > 1, all_gather(net, tokens * model.vocab_size * 2.0, t), 0.0)
        assert _same(out["tp_all_reduce"], tp_ar)
        assert _same(out["ep_dispatch"], n_moe * a2a)
        assert _same(out["ep_combine"], n_moe * (a2a if ab == 2.0 else back))
        assert _same(out["vocab_collectives"], ar + gather)
