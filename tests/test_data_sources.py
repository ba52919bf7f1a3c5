"""Where specs come from: built-in entries, the user's folder, --db folders, spec files; provenance of outputs."""

import json

import pytest
import yaml

import genmodel
from genmodel.data import registry
from genmodel.errors import SpecError
from genmodel.interfaces.cli import main


def _write_model(folder, name, **changes):
    data = genmodel.get_model("llama-3.1-8b").model_dump(mode="json", exclude_none=True)
    data.update({"name": name, "display_name": name.upper(), **changes})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_built_in_data_is_found_in_a_checkout():
    assert registry.is_source_checkout()
    assert (registry.builtin_dir("model") / "llama-3.1-8b.yaml").is_file()
    assert registry.validation_data().is_file()


def test_user_entries_are_added_to_the_built_ins(user_dir):
    before = len(genmodel.all_models())
    _write_model(user_dir / "models", "my-llama")
    registry.reload()
    assert len(genmodel.all_models()) == before + 1
    assert genmodel.get_model("my-llama").hidden_size == 4096
    assert genmodel.get_model("llama-3.1-8b").name == "llama-3.1-8b"  # the built-in is still there


def test_a_name_clash_is_an_error_naming_both_files(user_dir):
    path = _write_model(user_dir / "models", "llama-3.1-8b")
    registry.reload()
    with pytest.raises(SpecError, match="defined twice") as err:
        genmodel.get_model("llama-3.1-8b")
    assert str(path) in str(err.value) and "models_db" in str(err.value)


def test_a_file_must_be_named_after_its_entry(user_dir):
    path = _write_model(user_dir / "models", "my-llama")
    path.rename(path.with_name("other.yaml"))
    registry.reload()
    with pytest.raises(SpecError, match=r"name the file my-llama\.yaml"):
        genmodel.all_models()


def test_db_option_and_environment_variable(user_dir, tmp_path, capsys, monkeypatch):
    extra = tmp_path / "team-db"
    _write_model(extra / "models", "team-llama")
    assert main(["--db", str(extra), "models"]) == 0
    assert "team-llama" in capsys.readouterr().out
    registry._extra_roots.clear()
    registry.reload()
    monkeypatch.setenv("GENMODEL_DB", str(extra))
    assert genmodel.get_model("team-llama").name == "team-llama"
    assert main(["--db", str(tmp_path / "missing"), "models"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_spec_files_are_accepted_directly(user_dir, tmp_path, capsys):
    path = _write_model(tmp_path / "specs", "file-llama")
    hw = genmodel.get_hardware("h100-sxm").model_dump(mode="json", exclude_none=True)
    hw_path = tmp_path / "specs" / "my-gpu.json"
    hw_path.write_text(json.dumps({**hw, "name": "my-gpu"}))
    assert main(["estimate", "--model", str(path), "--hardware", str(hw_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "file-llama" and data["hardware"] == "my-gpu"
    direct = genmodel.estimate("llama-3.1-8b", "h100-sxm")
    assert data["tpot_s"] == pytest.approx(direct.tpot_s)
    assert main(["estimate", "--model", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_every_json_output_carries_the_provenance(user_dir, capsys):
    hashes = set()
    for argv in (["estimate", "--json"], ["models", "--json"], ["hardware", "--json"], ["platforms", "--json"],
                 ["show", "h100-sxm", "--json"], ["size", "--json"],
                 ["compare", "--hardware", "h100-sxm,b200", "--json"],
                 ["plan", "--max-devices", "2", "--json"]):
        assert main(argv) == 0, argv
        data = json.loads(capsys.readouterr().out)
        assert data["schema_version"] == 2 and data["genmodel_version"] == genmodel.__version__, argv
        hashes.add(data["database_hash"])
    assert len(hashes) == 1
    _write_model(user_dir / "models", "my-llama")
    registry.reload()
    assert registry.fingerprint() not in hashes  # the hash covers the user's entries too


def test_every_package_and_data_folder_is_in_the_wheel():
    # pyproject lists packages explicitly (the data folders are mapped in); a new subpackage must be listed too
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(root).parts) for p in (root / "genmodel").rglob("__init__.py")}
    assert on_disk <= listed, on_disk - listed
    mapped = config["package-dir"]
    for package, folder in mapped.items():
        assert package in listed and (root / folder).is_dir()
        patterns = config["package-data"][package]
        files = [f for f in (root / folder).iterdir() if f.is_file() and f.suffix in (".yaml", ".csv", ".md")]
        assert all(any(f.match(p) for p in patterns) for f in files), folder
