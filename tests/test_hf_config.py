"""Importing Hugging Face config.json files (fixtures are copies of the real files; see their README)."""

import json
from pathlib import Path

import pytest

from genmodel.interfaces.cli import main
from genmodel.data.registry import get_model, load_spec_file
from genmodel.errors import SpecError
from genmodel.specs.model import ModelSpec

FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"
CONFIGS = sorted(FIXTURES.glob("*.json"))
ARCH_ONLY = {"name", "display_name", "source", "reported_total_params", "reported_active_params", "notes"}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_fixture_reproduces_database_entry(path):
    imported = ModelSpec.from_hf_config(path, name=path.stem)
    entry = get_model(path.stem)
    assert imported.model_dump(exclude=ARCH_ONLY) == entry.model_dump(exclude=ARCH_ONLY)


def test_required_families_are_covered():
    families = {ModelSpec.from_hf_config(p, name=p.stem).family for p in CONFIGS}
    for family in ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "deepseek_v2", "deepseek_v3",
                   "gpt_oss", "gemma2", "gemma3_text"):
        assert family in families


def test_unsupported_model_type_is_a_clear_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mamba", "hidden_size": 2560}))
    with pytest.raises(SpecError, match="model_type 'mamba' is not supported"):
        ModelSpec.from_hf_config(path)
    path.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}))
    with pytest.raises(SpecError, match="'num_hidden_layers' is missing"):
        ModelSpec.from_hf_config(path)
    path.write_text(json.dumps({**json.loads((FIXTURES / "mixtral-8x7b.json").read_text()),
                                "attn_layer_period": 8}))
    with pytest.raises(SpecError, match="attn_layer_period"):
        ModelSpec.from_hf_config(path)


def test_import_hf_command_writes_an_entry(tmp_path, capsys):
    assert main(["import-hf", str(FIXTURES / "qwen3-30b-a3b.json"), "--name", "my-qwen", "--output-dir",
                 str(tmp_path), "--source", "https://example.org/config.json"]) == 0
    written = load_spec_file(tmp_path / "my-qwen.yaml", ModelSpec)
    assert written.model_dump(exclude=ARCH_ONLY) == get_model("qwen3-30b-a3b").model_dump(exclude=ARCH_ONLY)
    assert written.source == "https://example.org/config.json"
    assert main(["import-hf", str(FIXTURES / "qwen3-30b-a3b.json"), "--name", "my-qwen", "--output-dir",
                 str(tmp_path)]) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err


def test_moe_layer_rules_per_family():
    # DeepSeek: MoE when i >= first_k_dense_replace and i % moe_layer_freq == 0;
    # Llama-4: MoE when (i + 1) % interleave_moe_layer_step == 0
    base = json.loads((FIXTURES / "deepseek-v3.json").read_text())
    spec = ModelSpec.from_hf_config({**base, "moe_layer_freq": 2}, name="x")
    assert [i for i in range(10) if spec.layer_is_moe[i]] == [4, 6, 8]
    base = json.loads((FIXTURES / "llama-4-scout.json").read_text())
    base["text_config"]["interleave_moe_layer_step"] = 2
    spec = ModelSpec.from_hf_config(base, name="y")
    assert [i for i in range(6) if spec.layer_is_moe[i]] == [1, 3, 5]
