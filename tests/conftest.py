"""Shared fixtures: small hand-checkable specs next to the built-in databases."""

from __future__ import annotations

import pytest

from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.model import ModelSpec


@pytest.fixture
def toy_hw() -> HardwareSpec:
    """A device with round numbers: 100 TFLOPS bf16, 1 TB/s, 10 GB, known efficiencies, all memory usable, no
    shape effects and no engine host work (the 'vendor' runtime)."""
    return HardwareSpec.model_validate({
        "name": "toy", "display_name": "Toy accelerator", "vendor": "test", "kind": "gpu",
        "peak_flops_per_s": {"bf16": "100 TFLOPS", "fp8": "200 TFLOPS"},
        "memory_tiers": [{"name": "HBM", "capacity_bytes": "10 GB", "bandwidth_bytes_per_s": "1 TB/s"}],
        "efficiency": {"compute_efficiency": 0.5, "memory_efficiency": 0.8, "kernel_overhead_s": "1 us",
                       "attention_efficiency": 0.5, "kv_memory_efficiency": 0.8,
                       "usable_memory_fraction": 1.0, "runtime_reserved_bytes": 0},
        # shape effects off (and compute and memory overlapping as in the plain roofline) and a runtime with no
        # host work, so that hand derivations stay simple; the shape-dependent physics is checked on its own
        # (tests/test_efficiency.py)
        "microarchitecture": {"matrix_unit_rows": 1, "gemm_tile": [1, 1], "attention_half_tokens": 1e-9,
                              "memory_ramp_bytes": 0, "kernel_floor_s": 0, "compute_memory_overlap": 1.0},
        "default_engine": "vendor",
        "source": "test fixture",
    })


@pytest.fixture
def toy_model() -> ModelSpec:
    """A 2-layer GQA model with small round dimensions."""
    return ModelSpec.model_validate({
        "name": "toy-model", "display_name": "Toy", "family": "llama", "hidden_size": 1024, "num_layers": 2,
        "vocab_size": 1000, "max_context_tokens": 100000,
        "attention": {"num_heads": 8, "num_kv_heads": 2, "head_dim": 128},
        "ffn": {"intermediate_size": 4096}, "source": "test fixture",
    })


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A fresh, empty user database folder (and no GENMODEL_DB folders); the databases are re-read around it."""
    from genmodel.data import registry

    folder = tmp_path / "user"
    monkeypatch.setenv("GENMODEL_USER_DIR", str(folder))
    monkeypatch.delenv("GENMODEL_DB", raising=False)
    registry.reload()
    yield folder
    registry.reload()
