"""The built-in databases: coverage, provenance, dense peaks and decimal units."""

import pytest

import genmodel
from genmodel.data.registry import all_hardware, all_models, get_hardware

REQUIRED_HARDWARE = [
    "a100-80gb-sxm", "h100-sxm", "h200-sxm", "gh200", "b200", "gb200-nvl72", "l40s", "rtx-4090",
    "jetson-agx-orin-64gb", "mi300x", "mi325x", "mi355x", "tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu-v7-ironwood",
    "gaudi3", "trainium2", "groq-lpu-v1", "cerebras-wse-3", "sambanova-sn40l", "ascend-910c", "apple-m4-max",
    "apple-a18-pro", "intel-lunar-lake-npu", "alveo-u280", "versal-vhk158", "imec-scd-board",
]
REQUIRED_MODELS = [
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-4-scout", "llama-4-maverick", "mistral-7b-v0.1",
    "mixtral-8x7b", "mixtral-8x22b", "deepseek-v3", "deepseek-r1", "deepseek-v2-lite", "qwen2.5-72b", "qwen3-32b",
    "qwen3-30b-a3b", "qwen3-235b-a22b", "gpt-oss-20b", "gpt-oss-120b", "kimi-k2", "gemma-3-27b", "phi-3-mini-4k",
]


def test_coverage():
    hw, models = all_hardware(), all_models()
    assert len(hw) >= 30 and len(models) >= 20
    assert not set(REQUIRED_HARDWARE) - set(hw)
    assert not set(REQUIRED_MODELS) - set(models)
    kinds = {h.kind for h in hw.values()}
    assert {"gpu", "tpu", "npu", "fpga", "cpu", "soc", "wafer_scale", "dataflow", "lpu", "scd"} <= kinds
    assert sum(h.kind == "fpga" for h in hw.values()) >= 2


def test_every_entry_cites_a_source():
    for entry in [*all_hardware().values(), *all_models().values()]:
        assert entry.source.strip(), entry.name


# Dense peaks from vendor documents (sparse headline / 2 where the vendor quotes 2:4 sparsity):
DENSE = [
    ("h100-sxm", "bf16", 989.4e12),  # NVIDIA H100 datasheet: 1,979 TFLOPS BF16 "with sparsity"
    ("h100-sxm", "fp8", 1978.9e12),  # 3,958 with sparsity
    ("b200", "bf16", 2.25e15),  # HGX B200: 36 PFLOPS BF16 sparse per 8 GPUs -> 18 / 8
    ("mi300x", "bf16", 1307.4e12),  # AMD MI300X data sheet: 1,307.4 TFLOPS BF16 dense
    ("tpu-v5e", "bf16", 197e12),  # cloud.google.com/tpu/docs/v5e
    ("tpu-v6e", "bf16", 918e12),  # cloud.google.com/tpu/docs/v6e
    ("gaudi3", "bf16", 1835e12),  # Intel Hot Chips 2024: 1,835 TFLOPS BF16 matrix
]


@pytest.mark.parametrize(("name", "dtype", "flops"), DENSE)
def test_dense_peaks_match_datasheets(name, dtype, flops):
    assert get_hardware(name).peak_flops_per_s[dtype] == pytest.approx(flops, rel=0.005)


# Each narrower datatype runs at most 2x the next wider one the device lists; a higher ratio usually means a
# 2:4-sparse figure slipped in. Published dense exceptions, each from the vendor:
RATIO_EXCEPTIONS = {
    ("b300", "fp4"): 3,  # Blackwell Ultra raised dense FP4 1.5x: 13.5-15 PF FP4 vs 4.5-5 PF FP8 per GPU
    ("gb300-nvl72", "fp4"): 3,
    ("groq-lpu-v1", "int8"): 4,  # Groq TSP: 750 TOPS INT8 vs 188 TFLOPS FP16, no FP8
    # GeForce: FP8 is listed at the FP32-accumulate half rate (419; 838 with FP16 accumulate), FP4 is
    # NVIDIA's 3,352 "AI TOPS" (sparse) / 2
    ("rtx-5090", "fp4"): 4,
    # GeForce Ampere has no FP8: INT8 (integer accumulate, full rate) is twice the FP16-accumulate tensor rate, four
    # times the FP32-accumulate rate listed for FP16/BF16 (GA102 whitepaper, RTX 3090: 284 against 142 and 71)
    ("rtx-3090", "int8"): 4,
}
CHAIN = {"fp8": ("bf16", "fp16"), "int8": ("fp8", "bf16", "fp16"), "fp6": ("fp8",), "fp4": ("fp6", "fp8"),
         "int4": ("int8",)}


def test_no_device_lists_sparse_looking_ratios():
    for h in all_hardware().values():
        p = h.peak_flops_per_s
        for dtype, wider in CHAIN.items():
            base = next((p[w] for w in wider if w in p), None)
            if dtype in p and base:
                limit = RATIO_EXCEPTIONS.get((h.name, dtype), 2)
                # 2% slack for vendor rounding (L40S datasheet: 362.05 BF16 vs 733 FP8 dense)
                assert p[dtype] <= limit * base * 1.02, f"{h.name} {dtype}"


def test_no_fp8_speedup_where_there_is_none():
    # Google: TPU v5p and v6e run FP8 at the BF16 rate; Intel: Gaudi 3 FP8 = BF16 matrix rate
    for name in ("tpu-v5p", "tpu-v6e", "gaudi3"):
        p = get_hardware(name).peak_flops_per_s
        assert p.get("fp8", p["bf16"]) == p["bf16"]


def test_memory_capacity_binary_bandwidth_decimal():
    # HBM capacity is binary: the H100's "80 GB" is 80 GiB (nvidia-smi reports 81,559 MiB, the driver keeping a
    # little); vendors quote bandwidth in decimal units: 3.35 TB/s
    h100 = get_hardware("h100-sxm")
    assert h100.memory_capacity_bytes == 80 * 2**30 and h100.fastest_memory.bandwidth_bytes_per_s == 3.35e12
    assert h100.memory_capacity_bytes >= 81_559 * 2**20
    # H100 NVLink 4: 900 GB/s is the bidirectional total, 450 GB/s per direction
    assert h100.scale_up.bandwidth_per_direction_bytes_per_s == 450e9


def test_sambanova_has_three_memory_tiers():
    tiers = get_hardware("sambanova-sn40l").memory
    assert len(tiers) == 3
    assert tiers[0].capacity_bytes < tiers[1].capacity_bytes < tiers[2].capacity_bytes
    assert tiers[0].bandwidth_bytes_per_s > tiers[1].bandwidth_bytes_per_s > tiers[2].bandwidth_bytes_per_s


def test_every_device_runs_a_small_model():
    import genmodel

    for h in all_hardware().values():
        r = genmodel.estimate("llama-3.2-1b", h, batch=1, input_tokens=128, output_tokens=16, check_fit=False)
        assert r.tpot_s > 0 and r.ttft_s > 0, h.name


def test_a100_pcie_is_the_sxm_silicon_with_less_bandwidth_and_power():
    # NVIDIA A100 datasheet, PCIe 80GB column: the same dense peaks as SXM4 (312 TFLOPS BF16), 1,935 GB/s of HBM2e
    # (SXM4: 2,039), 300 W (SXM4: 400), PCIe Gen4 (64 GB/s both ways) and no NVLink bridge unless one is fitted
    pcie, sxm = get_hardware("a100-80gb-pcie"), get_hardware("a100-80gb-sxm")
    assert pcie.peak_flops_per_s == sxm.peak_flops_per_s
    assert pcie.fastest_memory.bandwidth_bytes_per_s == 1935e9 and pcie.power.tdp_w == 300
    assert pcie.memory_tiers[-1].capacity_bytes == sxm.memory_tiers[-1].capacity_bytes == 80 * 2**30
    assert pcie.scale_up.bandwidth_per_direction_bytes_per_s == 32e9 and pcie.scale_up.name.startswith("PCIe Gen4")
    # a batch-1 decode streams the weights: the same model and engine decode slower on the PCIe card by at most the
    # bandwidth ratio 2,039 / 1,935 = 1.054 (less, as the step's fixed costs are the same on both)
    ratio = (genmodel.estimate("llama-3.1-8b", "a100-80gb-pcie", batch=1, input_tokens=512, output_tokens=128).tpot_s
             / genmodel.estimate("llama-3.1-8b", "a100-80gb-sxm", batch=1, input_tokens=512, output_tokens=128).tpot_s)
    assert 1.03 <= ratio <= 2039 / 1935
