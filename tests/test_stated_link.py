"""A validation row's stated interconnect (genmodel.validation.rows.stated_link; docs/validation.md history item 42).

Expected figures come from the A100 datasheet (PCIe Gen4 x16: 64 GB/s both directions, 32 GB/s each way), the
hardware entries' NVLink figures (300 GB/s per direction, 2 us) and the alpha-beta collectives of
docs/parallelism.md section 2, worked by hand below.
"""

from __future__ import annotations

import pytest

import genmodel
from genmodel.validation.rows import HOST_PATH_LATENCY_S, NotExpressibleError, parse_row, stated_link

NO_P2P = "one node, two pods; startup log: custom all-reduce disabled because 'your platform lacks GPU P2P capability'"


def _row(hardware: str, interconnect: str) -> dict[str, str]:
    return {"id": "L-1", "model": "llama-3.1-8b", "hardware": hardware, "dtype": "bf16/bf16/bf16",
            "num_devices": "2", "interconnect": interconnect, "system": "vLLM; static", "batch_or_concurrency": "1",
            "input_len": "128", "output_len": "2", "tp": "2", "pp": "1", "ep": "1", "metric": "tpot",
            "value": "10", "unit": "ms", "engine": "vllm", "batching": "static"}


@pytest.mark.parametrize("text", [
    "two nodes over the cluster network (Ray head and worker pods on worker-19/worker-20); no NVLink",
    "four pods across nodes (Ray); startup log: custom all-reduce disabled because 'this process group spans "
    "across nodes'",
])
def test_nodes_over_an_undescribed_network_are_not_expressible(text):
    with pytest.raises(NotExpressibleError, match="network the row does not describe"):
        parse_row(_row("a100-80gb-sxm", text))


@pytest.mark.parametrize("text", [
    "NVLink within node; 4 nodes over Ethernet (Juniper)",
    "NVLink within each 8-GPU node (assumed HGX), InfiniBand between the 2 nodes (stated)",
    "NVLink (assumed, 2 GPUs of one HGX node)", "n/a", "",
])
def test_other_statements_keep_the_devices_own_links(text):
    hw = genmodel.get_hardware("a100-80gb-sxm")
    assert parse_row(_row("a100-80gb-sxm", text)).kwargs["hardware"] is hw


def test_no_peer_access_runs_the_collectives_through_host_memory():
    hw = parse_row(_row("a100-80gb-sxm", NO_P2P)).kwargs["hardware"]
    assert hw.scale_up.bandwidth_per_direction_bytes_per_s == 32e9  # PCIe Gen4 x16, one direction
    assert hw.scale_up.latency_s == HOST_PATH_LATENCY_S == 10e-6
    assert hw.scale_up.domain_size == 8
    # everything else is the database entry's
    own = genmodel.get_hardware("a100-80gb-sxm")
    assert hw.model_dump(exclude={"scale_up"}) == own.model_dump(exclude={"scale_up"})
    # the same device object for every such row (its derived physics is computed once)
    assert parse_row(_row("a100-80gb-sxm", NO_P2P)).kwargs["hardware"] is hw


def test_decode_collectives_through_host_memory_by_hand():
    # Llama-3.1-8B, TP 2, batch 1, one decode step: 2 all-reduces per layer x 32 layers + the embedding's = 65, each
    # of one token's hidden state (4,096 x 2 bytes); with n = 2 recursive doubling, alpha + M / beta_eff, beats the
    # ring's 2 alpha + M / beta_eff. The LM head's all-gather of the logits: (n - 1) alpha + (n - 1)/n x V x 2 bytes /
    # beta_eff with V = 128,256. Links reach 80% of their bandwidth (collectives.DEFAULT_LINK_EFFICIENCY).
    def comm(alpha, beta):
        eff = 0.8 * beta
        return 65 * (alpha + 8192 / eff) + alpha + 128256 / eff

    nvlink, host = comm(2e-6, 300e9), comm(10e-6, 32e9)
    assert nvlink == pytest.approx(134.753e-6, rel=1e-5) and host == pytest.approx(685.81e-6, rel=1e-5)
    for hw, expected in ((genmodel.get_hardware("a100-80gb-sxm"), nvlink),
                         (stated_link(genmodel.get_hardware("a100-80gb-sxm"), NO_P2P), host)):
        r = genmodel.estimate(model="llama-3.1-8b", hardware=hw, tp=2, input_tokens=128, output_tokens=2)
        assert float(r.metrics["decode_comm_s"]) == pytest.approx(expected, rel=1e-9)


def test_a_pcie_device_keeps_its_link():
    hw = genmodel.get_hardware("rtx-4090")  # its scale-up link is already PCIe through the host
    assert stated_link(hw, NO_P2P) is hw


def test_no_peer_access_without_a_described_host_link_is_not_expressible():
    hw = genmodel.get_hardware("b200")
    assert hw.host_link is None and hw.scale_up is not None
    with pytest.raises(NotExpressibleError, match="describes no host link"):
        stated_link(hw, NO_P2P)
