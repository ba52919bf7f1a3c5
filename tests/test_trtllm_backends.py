"""TensorRT-LLM's two runtimes (engines_db/trtllm.yaml, engines_db/trtllm-pytorch.yaml; docs/formulas.md section 5.2):
the C++ runtime of TensorRT engines and the PyTorch backend (the default from release 1.0), whose context and mixed
iterations run eagerly (CUDA graphs for generation-only iterations: TensorRT-LLM's CudaGraphConfig; piecewise graphs
for context steps are opt-in), and which validation rows take which."""

import pytest

import genmodel
from genmodel.validation.rows import parse_row, trtllm_pytorch


def _row(version: str, system: str) -> dict[str, str]:
    return {"id": "T-1", "model": "llama-3.1-8b", "hardware": "h100-sxm", "dtype": "bf16/bf16/bf16",
            "num_devices": "1", "system": system + "; static", "batch_or_concurrency": "1", "input_len": "1024",
            "output_len": "128", "tp": "1", "pp": "1", "ep": "1", "metric": "ttft", "value": "100", "unit": "ms",
            "engine": "trtllm", "engine_version": version, "batching": "static"}


@pytest.mark.parametrize(("version", "system", "pytorch"), [
    ("1.3.0rc14", "TensorRT-LLM trtllm-serve", True),  # 1.0 and later: the PyTorch backend by default
    ("1.2.0rc6.post2", "trtllm-serve", True),
    ("TensorRT-LLM container nvcr.io/nvidia/tensorrt-llm/release:1.2.0rc0", "trtllm-serve", True),
    ("", "trtllm-serve (image nvcr.io/nvidia/tensorrt-llm/release:1.1.0)", True),
    ("", "TensorRT-LLM (trtllm-serve, PyTorch backend)", True),  # stated, whatever the release
    ("0.19.0", "trtllm-bench --backend pytorch", True),
    ("0.19.0", "trtllm-bench throughput", False),  # before 1.0: TensorRT engines unless stated
    ("0.16.0", "TensorRT-LLM 0.16.0 trtllm-bench throughput (C++ executor)", False),
    ("1.0.0", "trtllm-build then trtllm-bench --backend tensorrt", False),  # a TensorRT engine stated on 1.x
    ("NIM 1.0.0", "NVIDIA NIM", False),  # NIM's version is not TensorRT-LLM's
    ("TensorRT 10.11", "MLPerf submission", False),
    ("", "TensorRT-LLM gptSessionBenchmark", False),
])
def test_which_rows_ran_the_pytorch_backend(version, system, pytorch):
    assert trtllm_pytorch(_row(version, system)) is pytorch
    engine = parse_row(_row(version, system)).kwargs["engine"]
    assert (engine if isinstance(engine, str) else engine.name) == ("trtllm-pytorch" if pytorch else "trtllm")


def test_piecewise_prefill_graphs_stated_in_a_rows_config_replay_every_step():
    from genmodel.validation.rows import _engine_as_run

    # TensorRT-LLM's YAML option (torch_compile_config) and SGLang's flag: prompt steps replay graphs too
    assert _engine_as_run("trtllm-pytorch", "trtllm-serve, enable_piecewise_cuda_graph: true").graph_steps == "all"
    assert _engine_as_run("trtllm-pytorch", "trtllm-serve, enable_piecewise_cuda_graph: false") == "trtllm-pytorch"


def test_the_pytorch_backend_is_the_cpp_runtime_with_eager_prompt_steps():
    cpp, torch = genmodel.get_engine("trtllm"), genmodel.get_engine("trtllm-pytorch")
    same = ("step_overhead_s", "step_overhead_per_sequence_s", "prefill_overhead_s", "kernel_overhead_s",
            "max_batch_tokens", "max_seqs", "kv_block_tokens", "mixed_batches", "chunked_prefill")
    assert all(getattr(cpp, f) == getattr(torch, f) for f in same)
    assert (cpp.eager_launch_s, torch.eager_launch_s, torch.graph_steps) == (0.0, 65e-6, "decode")


def test_a_pytorch_backend_prompt_step_waits_for_its_kernels_by_hand(toy_model, toy_hw):
    # The toy model's prefill launches 21 kernels (tests/test_engines.py counts them); its device time is well under
    # 21 x 65 us = 1.365 ms, so the host binds the eager prompt step: TTFT = 1.365 ms + a + b x 1 sequence =
    # 1.365 + 0.15 + 0.002 ms (the C++ runtime's host work, no prefill term). Decode steps replay graphs in both.
    kw = dict(batch=1, input_tokens=100, output_tokens=2)
    cpp = genmodel.estimate(toy_model, toy_hw, engine="trtllm", **kw)
    torch = genmodel.estimate(toy_model, toy_hw, engine="trtllm-pytorch", **kw)
    assert cpp.ttft_s < 0.5e-3
    assert torch.ttft_s == pytest.approx(21 * 65e-6 + 0.15e-3 + 2e-6, rel=1e-9)
    assert torch.tpot_s == cpp.tpot_s
