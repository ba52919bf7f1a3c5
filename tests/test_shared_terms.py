"""Terms computed once for several figures give the numbers of computing each figure on its own (issue 14).

A block's layout remembers its derived figures, the largest batch at three capacities shares its capacity-free terms,
the real and ideal collectives run as one pass over a [real, ideal] link efficiency, and the exposed share of the
communication is a masked division: each is compared, element by element (bits and signs), with the plain
computation it replaces. No timing is asserted here (benchmarks/ measure speed).
"""

import numpy as np
import pytest

import genmodel
from genmodel.engine.estimate import _layout_part
from genmodel.engine.inputs import prepare
from genmodel.engine.memory import DeviceMemory
from genmodel.engine.operators import DTypes
from genmodel.engine.parallel import Parallelism
from genmodel.engine.step import Stepper, _exposed_factor
from genmodel.specs.workload import DEFAULT_PREFILL_CHUNK_TOKENS

N = 500


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True) \
        and (a.dtype.kind != "f" or np.array_equal(np.signbit(a), np.signbit(b)))


def _layout(rng) -> Parallelism:
    return Parallelism(tp=rng.choice([1, 2, 4, 8], N).astype(float), pp=rng.choice([1, 2], N).astype(float), ep=8,
                       attention_dp=True)


def test_a_kept_layout_remembers_the_figures_of_the_plain_one():
    layout = _layout(np.random.default_rng(1))
    kept = layout.kept()
    for name in ("stage_size", "attention_groups", "expert_tp", "devices"):
        value = getattr(kept, name)
        assert _same(value, getattr(layout, name)) and getattr(kept, name) is value and not value.flags.writeable
    assert layout.__dict__.get("_kept") is None  # the layout itself computes them on every use


def test_a_part_of_a_kept_layout_does_not_share_its_remembered_figures():
    layout = _layout(np.random.default_rng(2))
    whole = _layout_part(layout, {"tp": layout.tp, "pp": layout.pp})
    whole.attention_groups  # noqa: B018  (remembered on the whole)
    part = _layout_part(whole, {"tp": layout.tp[:50], "pp": layout.pp[:50]})
    assert _same(part.attention_groups, layout.attention_groups[:50])
    assert _same(part.devices, layout.devices[:50])


@pytest.mark.parametrize("name", ["llama-3.1-70b", "deepseek-v3", "gemma-2-27b"])
def test_the_largest_batch_at_several_capacities_is_that_of_each_capacity(name):
    rng = np.random.default_rng(3)
    model = genmodel.get_model(name)
    device = DeviceMemory(model, DTypes("fp8", "bf16", "bf16"), Parallelism(tp=rng.choice([1, 2, 4, 8], N)))
    inputs, outputs = rng.integers(1, 40000, N).astype(float), rng.integers(1, 4000, N).astype(float)
    capacities = [rng.uniform(0, 2e11, N), np.zeros(N), np.full(N, 1e10)]
    together = device.max_batches(inputs, outputs, capacities)
    for cap, value in zip(capacities, together, strict=True):
        assert _same(value, device.max_batch(inputs, outputs, cap))
    one = DeviceMemory(model, DTypes("fp8", "bf16", "bf16"))
    assert _same(one.max_batches(1000.0, 100.0, [8e10, 9e10])[1], one.max_batch(1000.0, 100.0, 9e10))


@pytest.mark.parametrize("shapes", [((N,), (N,)), ((1, N), (1, N)), ((1, N), (N,)), ((), (N,))])
def test_the_exposed_factor_is_the_select_it_replaces(shapes):
    rng = np.random.default_rng(4)
    total = rng.uniform(0, 1, shapes[0]) * (rng.random(shapes[0]) < 0.7)
    exposed = total * rng.uniform(0, 1, shapes[1])
    for t in (total, np.abs(total) + 1e-3):
        plain = np.where(t > 0, exposed / np.where(t > 0, t, 1.0), 0.0)
        assert _same(_exposed_factor(t, exposed), plain)


@pytest.mark.parametrize("hardware, extra", [
    ("dgx-h200", {"ep": 8, "attention_dp": True}),
    ("gaudi3", {"cp": 2}),  # a switchless full mesh; context parallel collectives
    ("h200-sxm", {"pp": 2}),
])
@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_real_and_ideal_collectives_in_one_pass_are_those_of_two(hardware, extra, phase):
    rng = np.random.default_rng(5)
    model = "deepseek-v3" if "ep" in extra else "llama-3.1-70b"
    s = prepare(model, hardware, rng.integers(1, 300, N), rng.integers(16, 20000, N), rng.integers(1, 3000, N),
                "fp8", None, None, embedding_dtype=None, parallel=Parallelism(tp=rng.choice([1, 2, 4, 8], N), **extra),
                num_devices=None, prefill_chunk_tokens=DEFAULT_PREFILL_CHUNK_TOKENS, flops_scale=1.0,
                bandwidth_scale=1.0, capacity_scale=1.0, interconnect_scale=rng.uniform(0.5, 2, N), check_fit=False,
                workload=None, costs=None, requests_per_s=None, efficiency=None, calibrated=True,
                cooling_w_per_w=None)
    stepper = Stepper(s, {}, {})
    tokens = rng.uniform(1, 5000, (1, N)) if phase == "decode" else rng.uniform(1, 5000, N)
    seqs = rng.uniform(1, 300, np.shape(tokens))
    real, ideal = stepper._collective_pair(phase, tokens, seqs)
    plain_real = stepper._collectives(stepper.net, phase, tokens, seqs)
    plain_ideal = stepper._collectives(stepper.net.scaled(efficiency=1.0), phase, tokens, seqs)
    assert real.keys() == plain_real.keys() == ideal.keys() == plain_ideal.keys()
    for key in real:
        assert _same(real[key], plain_real[key]) and _same(ideal[key], plain_ideal[key]), key
