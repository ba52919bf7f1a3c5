"""Importing Hugging Face config.json files (fixtures are copies of the real files; see their README).

Bad input of every kind (values, files, names, folders, names the database already has) must end in one
``error:`` line naming the field or option, exit status 2 and nothing written. Every CLI test here points
``GENMODEL_USER_DIR`` at a fresh folder, so the user's own database is never read or written.
"""

import json
from pathlib import Path

import pytest
import yaml

import genmodel
from genmodel.data import registry
from genmodel.data.hf_import import check_entry_name, model_spec_from_hf_config
from genmodel.data.registry import get_model
from genmodel.errors import SpecError
from genmodel.interfaces.cli import main
from genmodel.specs.files import MAX_FILE_BYTES, load_spec_file
from genmodel.specs.hf_config import _shortest_period
from genmodel.specs.model import ModelSpec

FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"
CONFIGS = sorted(FIXTURES.glob("*.json"))
ARCH_ONLY = {"name", "display_name", "source", "reported_total_params", "reported_active_params", "notes"}


def fixture(stem: str) -> dict:
    return json.loads((FIXTURES / f"{stem}.json").read_text())


def arch(spec: ModelSpec) -> dict:
    return spec.model_dump(exclude=ARCH_ONLY)


@pytest.fixture(autouse=True)
def _isolated(user_dir):
    """Every test here gets a fresh, empty user database folder (conftest's user_dir)."""
    return user_dir


def written(user_dir: Path, out: Path) -> list[Path]:
    """Every file under the user folder and the output folder (to check that nothing was written)."""
    return [p for folder in (user_dir, out) if folder.exists() for p in folder.rglob("*")]


def cli_error(capsys, argv: list[str]) -> str:
    """Run the CLI, check that it failed cleanly (status 2, one 'error:' line, no output) and return the line."""
    capsys.readouterr()  # forget what earlier commands printed
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and len(err) < 600, err  # never the whole value
    return err


def import_error(capsys, tmp_path, user_dir, content, *options: str, file_name: str = "config.json") -> str:
    """Write ``content`` (a dict as JSON, str or bytes) as a config, import it and expect a clean error."""
    folder = tmp_path / "bad-model"
    folder.mkdir(exist_ok=True)
    path = folder / file_name
    if isinstance(content, dict):
        path.write_text(json.dumps(content))  # NaN and Infinity are written as JSON's NaN and Infinity
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    out = tmp_path / "out"
    err = cli_error(capsys, ["import-hf", str(path), "--output-dir", str(out), *options])
    assert written(user_dir, out) == []
    return err


# ---- the fixtures reproduce the database --------------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_fixture_reproduces_database_entry(path):
    imported = model_spec_from_hf_config(path, name=path.stem)
    assert arch(imported) == arch(get_model(path.stem))


def test_required_families_are_covered():
    families = {model_spec_from_hf_config(p, name=p.stem).family for p in CONFIGS}
    for family in ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "deepseek_v2", "deepseek_v3",
                   "gpt_oss", "gemma2", "gemma3_text"):
        assert family in families


def test_unsupported_model_type_is_a_clear_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mamba", "hidden_size": 2560}))
    with pytest.raises(SpecError, match="model_type 'mamba' is not supported"):
        model_spec_from_hf_config(path)
    path.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}))
    with pytest.raises(SpecError, match="'num_hidden_layers' is missing"):
        model_spec_from_hf_config(path)
    path.write_text(json.dumps({**fixture("mixtral-8x7b"), "attn_layer_period": 8}))
    with pytest.raises(SpecError, match="attn_layer_period"):
        model_spec_from_hf_config(path)
    path.write_text(json.dumps({**fixture("llama-3.1-8b"), "is_encoder_decoder": True}))
    with pytest.raises(SpecError, match="'is_encoder_decoder' means encoder-decoder architecture"):
        model_spec_from_hf_config(path)


def test_import_hf_command_writes_an_entry(tmp_path, capsys):
    assert main(["import-hf", str(FIXTURES / "qwen3-30b-a3b.json"), "--name", "my-qwen", "--output-dir",
                 str(tmp_path), "--source", "https://example.org/config.json"]) == 0
    entry = load_spec_file(tmp_path / "my-qwen.yaml", ModelSpec)
    assert arch(entry) == arch(get_model("qwen3-30b-a3b"))
    assert entry.source == "https://example.org/config.json"
    assert main(["import-hf", str(FIXTURES / "qwen3-30b-a3b.json"), "--name", "my-qwen", "--output-dir",
                 str(tmp_path)]) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["import-hf", str(FIXTURES / "llama-3.1-8b.json"), "--name", "my-qwen", "--output-dir",
                 str(tmp_path), "--force"]) == 0
    assert arch(load_spec_file(tmp_path / "my-qwen.yaml", ModelSpec)) == arch(get_model("llama-3.1-8b"))


def test_moe_layer_rules_per_family():
    # DeepSeek: MoE when i >= first_k_dense_replace and i % moe_layer_freq == 0;
    # Llama-4: MoE when (i + 1) % interleave_moe_layer_step == 0
    base = fixture("deepseek-v3")
    spec = model_spec_from_hf_config({**base, "moe_layer_freq": 2}, name="x")
    assert [i for i in range(10) if spec.layer_is_moe[i]] == [4, 6, 8]
    base = fixture("llama-4-scout")
    base["text_config"]["interleave_moe_layer_step"] = 2
    spec = model_spec_from_hf_config(base, name="y")
    assert [i for i in range(6) if spec.layer_is_moe[i]] == [1, 3, 5]


# ---- bad values ----------------------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("stem", "field", "value", "needle"), [
    # zero or negative sizes
    ("llama-3.1-8b", "num_attention_heads", 0, "field 'num_attention_heads' must be a positive integer, got 0"),
    ("llama-3.1-8b", "hidden_size", -1, "field 'hidden_size' must be a positive integer, got -1"),
    ("llama-3.1-8b", "num_hidden_layers", 0, "field 'num_hidden_layers' must be a positive integer, got 0"),
    ("llama-3.1-8b", "intermediate_size", -14336, "field 'intermediate_size' must be a positive integer"),
    ("llama-3.1-8b", "vocab_size", 0, "field 'vocab_size' must be a positive integer, got 0"),
    ("llama-3.1-8b", "max_position_embeddings", -5, "field 'max_position_embeddings' must be a positive"),
    ("llama-3.1-8b", "head_dim", 0, "field 'head_dim' must be a positive integer, got 0"),
    ("llama-3.1-8b", "num_key_value_heads", 0, "field 'num_key_value_heads' must be a positive integer, got 0"),
    ("mistral-7b-v0.1", "sliding_window", 0, "field 'sliding_window' must be a positive integer, got 0"),
    # sizes of the wrong type
    ("llama-3.1-8b", "hidden_size", "4096", "field 'hidden_size' must be an integer, got '4096' (a string)"),
    ("llama-3.1-8b", "hidden_size", [4096], "field 'hidden_size' must be an integer, got [4096] (a list)"),
    ("llama-3.1-8b", "hidden_size", {"value": 4096}, "field 'hidden_size' must be an integer, got {'value': 4096}"
                                                     " (an object)"),
    ("llama-3.1-8b", "hidden_size", 4096.5, "field 'hidden_size' must be an integer, got 4096.5"),
    ("llama-3.1-8b", "vocab_size", NAN, "field 'vocab_size' must be an integer, got NaN"),
    ("llama-3.1-8b", "max_position_embeddings", INF, "must be an integer, got Infinity"),
    ("llama-3.1-8b", "num_key_value_heads", -INF, "must be an integer, got -Infinity"),
    ("llama-3.1-8b", "num_hidden_layers", True, "field 'num_hidden_layers' must be an integer, got true (a "
                                                "boolean)"),
    ("llama-3.1-8b", "num_hidden_layers", 10**6, "field 'num_hidden_layers' must be at most 10,000"),
    ("llama-3.1-8b", "hidden_size", 10**60, "field 'hidden_size' must be at most 1,099,511,627,776"),
    ("llama-3.1-8b", "hidden_size", "x" * 100_000, "got 'xxxxxxxx"),  # cut short in the message
    # flags and names
    ("llama-3.1-8b", "tie_word_embeddings", "no", "field 'tie_word_embeddings' must be true or false (a JSON "
                                                  "boolean), got 'no' (a string)"),
    ("llama-3.1-8b", "tie_word_embeddings", 0, "field 'tie_word_embeddings' must be true or false"),
    ("llama-3.1-8b", "attention_bias", "false", "field 'attention_bias' must be true or false"),
    ("qwen3-32b", "use_sliding_window", 1, "field 'use_sliding_window' must be true or false"),
    ("llama-3.1-8b", "hidden_act", 7, "field 'hidden_act' must be a name"),
    ("llama-3.1-8b", "model_type", 3, "field 'model_type' must be a string, got 3"),
    ("llama-3.1-8b", "model_type", "mamba", "model_type 'mamba' is not supported"),
    ("llama-3.1-8b", "text_config", "llama", "field 'text_config' must be an object"),
    ("llama-3.1-8b", "rope_scaling", [1, 2], "field 'rope_scaling' must be an object or null, got [1, 2]"),
    # MoE fields
    ("mixtral-8x7b", "num_local_experts", 0, "field 'num_local_experts' must be a positive integer, got 0"),
    ("mixtral-8x7b", "num_experts_per_tok", "2", "field 'num_experts_per_tok' must be an integer, got '2'"),
    ("mixtral-8x7b", "num_experts_per_tok", 9, "field 'num_experts_per_tok' (9) exceeds 'num_local_experts' (8)"),
    ("mixtral-8x7b", "num_experts_per_tok", None, "required field 'num_experts_per_tok' is missing"),
    ("qwen3-30b-a3b", "mlp_only_layers", [3, 48], "field 'mlp_only_layers' entry 1 must be at most 47, got 48"),
    ("qwen3-30b-a3b", "mlp_only_layers", 3, "field 'mlp_only_layers' must be a list of at most 48 layer indices"),
    ("qwen3-30b-a3b", "decoder_sparse_step", 0, "field 'decoder_sparse_step' must be a positive integer, got 0"),
    ("deepseek-v3", "first_k_dense_replace", 61, "field 'first_k_dense_replace' (61) leaves no MoE layer in 61"),
    ("deepseek-v3", "moe_layer_freq", 0, "field 'moe_layer_freq' must be a positive integer, got 0"),
    ("deepseek-v3", "n_shared_experts", -1, "field 'n_shared_experts' must be an integer >= 0, got -1"),
    ("deepseek-v3", "kv_lora_rank", "512", "field 'kv_lora_rank' must be an integer, got '512' (a string)"),
    ("deepseek-v3", "qk_rope_head_dim", None, "required field 'qk_rope_head_dim' is missing"),
    # per-layer lists
    ("gpt-oss-20b", "layer_types", ["sliding_attention"] * 23, "field 'layer_types' has 23 entries but "
                                                               "num_hidden_layers is 24"),
    ("gpt-oss-20b", "layer_types", ["sliding_attention", "linear_attention"] * 12,
     "field 'layer_types' entry 1 is 'linear_attention' (a string); expected 'sliding_attention' or"),
    ("gpt-oss-20b", "layer_types", "sliding_attention", "field 'layer_types' must be a list with one entry per"),
])
def test_bad_field_is_one_clear_error(capsys, tmp_path, user_dir, stem, field, value, needle):
    config = fixture(stem)
    config[field] = value
    assert needle in import_error(capsys, tmp_path, user_dir, config)


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("hidden_size", "5120", "field 'text_config.hidden_size' must be an integer, got '5120' (a string)"),
    ("num_key_value_heads", 0, "field 'text_config.num_key_value_heads' must be a positive integer, got 0"),
    ("no_rope_layers", [1, 1, 1, 0] * 11, "field 'text_config.no_rope_layers' has 44 entries but "
                                          "num_hidden_layers is 48"),
    ("no_rope_layers", [1, 1, 1, 2] * 12, "field 'text_config.no_rope_layers' entry 3 must be 0 or 1, got 2"),
    ("attention_chunk_size", 8192.5, "field 'text_config.attention_chunk_size' must be an integer, got 8192.5"),
])
def test_bad_nested_field_names_its_path(capsys, tmp_path, user_dir, field, value, needle):
    config = fixture("llama-4-scout")
    config["text_config"][field] = value
    assert needle in import_error(capsys, tmp_path, user_dir, config)


def test_bad_top_level_flag_of_a_multimodal_config(capsys, tmp_path, user_dir):
    config = {**fixture("llama-4-scout"), "tie_word_embeddings": "false"}
    assert "field 'tie_word_embeddings' must be true or false" in import_error(capsys, tmp_path, user_dir, config)


def test_head_and_width_arithmetic_is_checked(capsys, tmp_path, user_dir):
    config = fixture("llama-3.1-8b")
    config["num_key_value_heads"] = 5
    err = import_error(capsys, tmp_path, user_dir, config)
    assert "field 'num_attention_heads' (32) must be a multiple of 'num_key_value_heads' (5)" in err
    config["num_key_value_heads"] = 64  # more KV heads than query heads
    assert "(32) must be a multiple of 'num_key_value_heads' (64)" in import_error(capsys, tmp_path, user_dir,
                                                                                   config)
    config["num_key_value_heads"] = 8
    config["hidden_size"] = 4000  # 4000 / 32 = 125: fine; 4000 / 48 is not an integer
    config["num_attention_heads"] = 48
    err = import_error(capsys, tmp_path, user_dir, config)
    assert "field 'hidden_size' (4000) is not divisible by 'num_attention_heads' (48) and 'head_dim' is not" in err
    # with an explicit head_dim the widths need not divide
    spec = model_spec_from_hf_config({**config, "head_dim": 128}, name="odd")
    assert (spec.attention.num_heads, spec.attention.num_kv_heads, spec.head_dim) == (48, 8, 128)


def test_missing_or_null_kv_heads_is_mha_but_zero_is_an_error():
    config = fixture("llama-3.1-8b")
    del config["num_key_value_heads"]
    spec = model_spec_from_hf_config(config, name="mha")
    assert (spec.attention.num_kv_heads, spec.head_dim, spec.attention.kind) == (32, 4096 // 32, "mha")
    assert model_spec_from_hf_config({**config, "num_key_value_heads": None}, name="mha").attention.kind == "mha"
    with pytest.raises(SpecError, match="'num_key_value_heads' must be a positive integer, got 0"):
        model_spec_from_hf_config({**config, "num_key_value_heads": 0}, name="mha")


def test_flags_are_taken_as_written_and_whole_floats_as_integers():
    config = fixture("llama-3.1-8b")
    assert model_spec_from_hf_config({**config, "tie_word_embeddings": True}, name="t").tie_word_embeddings is True
    assert model_spec_from_hf_config(config, name="t").tie_word_embeddings is False
    whole = model_spec_from_hf_config({**config, "hidden_size": 4096.0, "vocab_size": 128256.0}, name="t")
    assert arch(whole) == arch(model_spec_from_hf_config(config, name="t"))
    assert type(whole.hidden_size) is int


def test_per_layer_lists_as_written_match_the_family_rules():
    # Llama-4: RoPE (chunked) layers are those with (i + 1) % 4 != 0; the explicit list gives the same entry
    config = fixture("llama-4-scout")
    config["text_config"]["no_rope_layers"] = [1, 1, 1, 0] * 12
    spec = model_spec_from_hf_config(config, name="scout")
    assert spec.attention.window_pattern == [True, True, True, False]
    assert arch(spec) == arch(get_model("llama-4-scout"))
    # Gemma-2: even layers sliding; the same as layer_types written out
    config = fixture("gemma-2-27b")
    config["layer_types"] = ["sliding_attention", "full_attention"] * 23
    assert arch(model_spec_from_hf_config(config, name="g")) == arch(get_model("gemma-2-27b"))


def test_shortest_period():
    t, f = True, False
    assert _shortest_period([t, f] * 5) == [t, f]
    assert _shortest_period([t, t, t, t, t, f] * 10 + [t, t]) == [t, t, t, t, t, f]  # a cut-off last cycle
    assert _shortest_period([t] * 9 + [f]) == [t] * 9 + [f]
    assert _shortest_period([f]) == [f]
    assert _shortest_period([t] * 9_999 + [f]) == [t] * 9_999 + [f]  # the worst case is linear


# ---- bad files -----------------------------------------------------------------------------------------------


def _alias_bomb(levels: int) -> str:
    """Billion-laughs YAML: each level is a list of 9 references to the previous one (9**levels strings)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("content", "file_name", "needle"), [
    (bytes(range(256)) * 40, "config.json", "is not UTF-8 text (a binary file?)"),
    (b"\x00" * 64, "config.json", "is not valid JSON"),
    ("", "config.json", "is empty"),
    (" \n\t\n", "config.json", "is empty"),
    ("[1, 2, 3]", "config.json", "must hold one mapping (key: value pairs), not list"),
    ('"llama"', "config.json", "must hold one mapping (key: value pairs), not str"),
    ('{"model_type": "llama", ', "config.json", "is not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "config.json", "is nested too deeply to read"),
    ('{"a": ' * 100_000 + "1" + "}" * 100_000, "config.json", "is nested too deeply to read"),
    ("a: " + "[" * 100_000 + "]" * 100_000, "config.yaml", "nest"),  # libyaml: "maximum nesting depth"
    (_alias_bomb(9), "config.yaml", "expands to more than 1,000,000 values"),
    (_alias_bomb(4) + "model_type: llama\nhidden_size: *l3\n", "config.yaml",
     "field 'hidden_size' must be an integer, got [["),  # cut short, then "(a list)"
    ('{"model_type": "llama", "hidden_size": ' + "9" * 5000 + "}", "config.json", "cannot be read"),
])
def test_bad_file_is_one_clear_error(capsys, tmp_path, user_dir, content, file_name, needle):
    assert needle in import_error(capsys, tmp_path, user_dir, content, file_name=file_name)


def test_folder_device_and_missing_file_are_errors(capsys, tmp_path, user_dir):
    out = tmp_path / "out"
    assert "is a folder" in cli_error(capsys, ["import-hf", str(tmp_path), "--name", "x", "--output-dir", str(out)])
    assert "cannot read" in cli_error(capsys, ["import-hf", str(tmp_path / "none.json"), "--name", "x"])
    with pytest.raises(SpecError, match="embedded null byte"):
        model_spec_from_hf_config(str(tmp_path / "a\0b.json"), name="x")
    if Path("/dev/zero").exists():  # st_size 0, endless: must not be read
        assert "is not a regular file" in cli_error(capsys, ["import-hf", "/dev/zero", "--name", "x"])
    assert written(user_dir, out) == []


def test_huge_config_is_refused_and_a_large_padded_one_imports(capsys, tmp_path, user_dir):
    config = fixture("llama-3.1-8b")
    big = tmp_path / "big" / "config.json"
    big.parent.mkdir()
    big.write_text(json.dumps({**config, "padding": "x" * (50 * 2**20)}))  # a 50 MiB config.json
    err = cli_error(capsys, ["import-hf", str(big), "--name", "big", "--output-dir", str(tmp_path / "out")])
    assert "50 MiB, too large" in err
    # just under the size cap: one unused field of ~15 MiB is read with the json module and ignored
    big.write_text(json.dumps({**config, "padding": "x" * (MAX_FILE_BYTES - 2**20)}))
    assert main(["import-hf", str(big), "--name", "big", "--output-dir", str(tmp_path / "out")]) == 0
    entry = load_spec_file(tmp_path / "out" / "big.yaml", ModelSpec)
    assert arch(entry) == arch(get_model("llama-3.1-8b"))
    assert (tmp_path / "out" / "big.yaml").stat().st_size < 2000


# ---- names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "needle"), [
    ("../escape", "--name '../escape' is not a valid entry name"),
    ("a/b", "--name 'a/b' is not a valid entry name"),
    ("", "--name '' is not a valid entry name"),
    ("-x", "is not a valid entry name"),
    (".hidden", "is not a valid entry name"),
    ("my model", "is not a valid entry name"),
    ("x" * 101, "at most 100 characters"),
    ("llama\n", "is not a valid entry name"),
    ("My-Llama", "did you mean 'my-llama'?"),
    ("mine.yaml", "must not end in .yaml"),
])
def test_bad_name_is_refused(capsys, tmp_path, user_dir, name, needle):
    out = tmp_path / "out"
    err = cli_error(capsys, ["import-hf", str(FIXTURES / "llama-3.1-8b.json"), "--name", name, "--output-dir",
                             str(out)])
    assert needle in err
    assert written(user_dir, out) == []
    with pytest.raises(SpecError) as raised:
        check_entry_name(name)
    assert raised.value.argument == "name"
    with pytest.raises(SpecError, match="is not a valid entry name"):  # the library checks it too
        ModelSpec.from_hf_config(fixture("llama-3.1-8b"), name=name)


def test_default_name_comes_from_the_folder(capsys, tmp_path, user_dir):
    config = (FIXTURES / "llama-3.1-8b.json").read_text()
    folder = tmp_path / "Meta-Llama-3.1-8B-Custom"
    folder.mkdir()
    (folder / "config.json").write_text(config)
    out = tmp_path / "out"
    assert main(["import-hf", str(folder / "config.json"), "--output-dir", str(out)]) == 0
    entry = load_spec_file(out / "meta-llama-3.1-8b-custom.yaml", ModelSpec)
    assert (entry.name, entry.display_name) == ("meta-llama-3.1-8b-custom", "Meta-Llama-3.1-8B-Custom")
    # a file not called config.json is named after itself
    (tmp_path / "Tiny_Llama.json").write_text(config)
    assert main(["import-hf", str(tmp_path / "Tiny_Llama.json"), "--output-dir", str(out)]) == 0
    assert (out / "tiny_llama.yaml").is_file()
    # a Hugging Face cache snapshot: the repository's name, not the commit hash
    snapshot = tmp_path / "models--some-org--Cached-Llama" / "snapshots" / ("ab12" * 10)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(config)
    capsys.readouterr()  # forget the lines of the imports above
    assert main(["import-hf", str(snapshot / "config.json"), "--stdout"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["name"] == "cached-llama"
    # a folder name that is no entry name even lower-cased
    odd = tmp_path / "My Llama (copy)"
    odd.mkdir()
    (odd / "config.json").write_text(config)
    err = cli_error(capsys, ["import-hf", str(odd / "config.json"), "--output-dir", str(tmp_path / "out2")])
    assert "cannot make an entry name from 'My Llama (copy)'" in err and "pass --name" in err
    assert written(user_dir, tmp_path / "out2") == []


# ---- output folders ------------------------------------------------------------------------------------------


def test_output_dir_must_be_a_folder_that_can_be_created(capsys, tmp_path, user_dir):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    source = str(FIXTURES / "llama-3.1-8b.json")
    err = cli_error(capsys, ["import-hf", source, "--name", "mine", "--output-dir", str(a_file)])
    assert f"--output-dir {a_file} is a file, not a folder" in err
    err = cli_error(capsys, ["import-hf", source, "--name", "mine", "--output-dir", str(a_file / "sub" / "dir")])
    assert f"cannot be created: {a_file} is a file" in err
    assert a_file.read_text() == "not a folder"
    assert written(user_dir, tmp_path / "none") == []
    # a folder that does not exist yet is made, in an existing folder only (a mistyped path is no folder tree)
    err = cli_error(capsys, ["import-hf", source, "--name", "mine", "--output-dir", str(tmp_path / "new" / "sub")])
    assert f"its parent folder {tmp_path / 'new'} does not exist either" in err
    assert not (tmp_path / "new").exists()
    assert main(["import-hf", source, "--name", "mine", "--output-dir", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "mine.yaml").is_file()


def test_a_bad_config_writes_nothing_even_with_force(capsys, tmp_path, user_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.yaml").write_text("old")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**fixture("llama-3.1-8b"), "hidden_size": "4096"}))
    cli_error(capsys, ["import-hf", str(config), "--name", "mine", "--output-dir", str(out), "--force"])
    assert (out / "mine.yaml").read_text() == "old"
    assert sorted(p.name for p in out.iterdir()) == ["mine.yaml"]  # no temporary file left


def test_stdout_prints_yaml_and_writes_nothing(capsys, tmp_path, user_dir):
    out = tmp_path / "out"
    assert main(["import-hf", str(FIXTURES / "mixtral-8x7b.json"), "--name", "mine", "--stdout"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert arch(ModelSpec.model_validate(printed)) == arch(get_model("mixtral-8x7b"))
    assert written(user_dir, out) == []


# ---- the user's database -------------------------------------------------------------------------------------


def test_default_target_is_the_user_folder_and_the_entry_is_found(capsys, tmp_path, user_dir):
    assert main(["import-hf", str(FIXTURES / "mixtral-8x7b.json"), "--name", "my-mixtral"]) == 0
    target = user_dir / "models" / "my-mixtral.yaml"
    assert f"wrote {target}" in capsys.readouterr().out
    registry.reload()
    assert arch(genmodel.get_model("my-mixtral")) == arch(genmodel.get_model("mixtral-8x7b"))  # added, not replaced
    assert registry.entry_file("model", "my-mixtral") == target
    # the same name again: the file exists; --force overwrites this very file
    err = cli_error(capsys, ["import-hf", str(FIXTURES / "llama-3.1-8b.json"), "--name", "my-mixtral"])
    assert f"{target} already exists" in err and "--force" in err
    assert main(["import-hf", str(FIXTURES / "llama-3.1-8b.json"), "--name", "my-mixtral", "--force"]) == 0
    registry.reload()
    assert arch(genmodel.get_model("my-mixtral")) == arch(genmodel.get_model("llama-3.1-8b"))
    # the name is taken by the user entry: refused in any other folder, even with --force
    other = tmp_path / "other"
    err = cli_error(capsys, ["import-hf", str(FIXTURES / "llama-3.1-8b.json"), "--name", "my-mixtral",
                             "--output-dir", str(other), "--force"])
    assert f"already taken by the model in {target}" in err and str(other / "my-mixtral.yaml") in err
    assert not other.exists()


def test_name_of_a_builtin_model_is_refused_naming_both_files(capsys, tmp_path, user_dir):
    builtin = registry.entry_file("model", "mixtral-8x7b")
    for extra in ([], ["--force"], ["--output-dir", str(tmp_path / "out"), "--force"]):
        err = cli_error(capsys, ["import-hf", str(FIXTURES / "mixtral-8x7b.json"), "--name", "mixtral-8x7b", *extra])
        assert "--name 'mixtral-8x7b' is already taken by the model in" in err
        assert str(builtin) in err
        target = (tmp_path / "out" if extra[1:] else user_dir / "models") / "mixtral-8x7b.yaml"
        assert str(target) in err
        assert written(user_dir, tmp_path / "out") == []
    registry.reload()
    assert registry.entry_file("model", "mixtral-8x7b") == builtin  # the database still loads


def test_a_user_entry_in_another_format_is_not_overwritten_by_force(capsys, tmp_path, user_dir):
    models = user_dir / "models"
    models.mkdir(parents=True)
    assert main(["import-hf", str(FIXTURES / "mixtral-8x7b.json"), "--name", "mine", "--stdout"]) == 0
    (models / "mine.json").write_text(json.dumps(yaml.safe_load(capsys.readouterr().out)))
    registry.reload()
    err = cli_error(capsys, ["import-hf", str(FIXTURES / "mixtral-8x7b.json"), "--name", "mine", "--force"])
    assert f"already taken by the model in {models / 'mine.json'}" in err
    assert sorted(p.name for p in models.iterdir()) == ["mine.json"]
