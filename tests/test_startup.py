"""A command's start: what it imports, the parse cache of the databases, name lookups without errors, and the
one-command app the CLI hands to Typer. Speed itself is measured in benchmarks/bench_startup.py, never here."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

import genmodel
import genmodel.errors
from genmodel.data import registry
from genmodel.errors import SpecError, UnknownNameError
from genmodel.interfaces.cli import app, app_for, main
from genmodel.specs import files
from genmodel.specs.files import ParseCache, load_mapping, load_spec_file
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.model import ModelSpec

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"plotly", "pandas", "streamlit", "dask", "pyarrow"}
TINY = {"name": "tiny", "display_name": "Tiny", "family": "llama", "hidden_size": 256, "num_layers": 2,
        "vocab_size": 1000, "max_context_tokens": 4096, "attention": {"num_heads": 4, "num_kv_heads": 2},
        "ffn": {"intermediate_size": 1024}, "source": "test"}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch, user_dir):
    """An empty parse cache folder of its own (and an empty user folder); the databases are re-read around it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("GENMODEL_CACHE_DIR", str(folder))
    registry.reload()
    yield folder
    registry.reload()


def run_cli(args, env_extra, code):
    """Run ``code`` in a fresh interpreter (the repository first on the path) with ``args`` as sys.argv[1:]."""
    env = {**os.environ, **env_extra, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


# ---- imports -----------------------------------------------------------------------------------------------------

def test_estimate_imports_no_heavy_package(tmp_path):
    """`genmodel estimate` in a fresh process: a full report, and none of plotly, pandas, streamlit, dask, pyarrow
    loaded (they belong to the dashboard, charts and sweeps)."""
    probe = ("import sys; from genmodel.interfaces.cli import main; code = main(sys.argv[1:]); "
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {HEAVY!r})); sys.exit(code)")
    env = {"GENMODEL_USER_DIR": str(tmp_path / "user"), "GENMODEL_CACHE_DIR": str(tmp_path / "cache")}
    for args in (["estimate"], ["estimate", "--model", "deepseek-v3", "--hardware", "dgx-h200", "--weight-dtype",
                                "fp8", "--tp", "8", "--json"]):
        done = run_cli(args, env, probe)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "[]", args
        assert "TTFT" in done.stdout or '"ttft_s"' in done.stdout


def test_an_estimate_builds_the_validators_of_the_specs_it_reads_only(tmp_path):
    """The spec classes build their Pydantic validators when they first validate (``FrozenSpec``'s ``defer_build``),
    so a process pays for the specs it reads: after `genmodel estimate` the device, model and engine specs are built
    and the sweep specs (imported with the CLI, never read by an estimate) are not; a sweep spec then validates and
    refuses bad input as any other (one readable ``SpecError``)."""
    probe = ("import sys; from genmodel.interfaces.cli import main; code = main(sys.argv[1:]); "
             "from genmodel.specs import engine, hardware, model, sweep; "
             "print([c.__pydantic_complete__ for c in (hardware.HardwareSpec, model.ModelSpec, engine.EngineSpec, "
             "sweep.Histogram, sweep.LayoutGrid)]); sys.exit(code)")
    env = {"GENMODEL_USER_DIR": str(tmp_path / "user"), "GENMODEL_CACHE_DIR": str(tmp_path / "cache")}
    done = run_cli(["estimate"], env, probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[True, True, True, False, False]"
    from genmodel.specs.sweep import Histogram
    with pytest.raises(SpecError):
        Histogram.model_validate({"no_such_field": 1})


def test_an_estimates_provenance_loads_no_other_database(tmp_path):
    """The database hash in every output is taken from the files' bytes: `genmodel estimate --json` loads the model,
    device and engine it names, not the use cases (whose validation imports the serving model); and the hash is the
    sha256 of each kind's files by entry name (a file's stem), derived here from the folders themselves."""
    import hashlib

    probe = ("import sys; from genmodel.interfaces.cli import main; code = main(sys.argv[1:]); "
             "print(sorted(m for m in sys.modules if m.startswith('genmodel.serving'))); sys.exit(code)")
    env = {"GENMODEL_USER_DIR": str(tmp_path / "user"), "GENMODEL_CACHE_DIR": str(tmp_path / "cache")}
    done = run_cli(["estimate", "--json"], env, probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
    digest = hashlib.sha256()
    for kind, folder in (("model", "models_db"), ("hardware", "hardware_db"), ("platform", "hardware_db/platforms"),
                         ("engine", "engines_db"), ("use_case", "usecases_db")):
        for path in sorted((p for p in (ROOT / folder).iterdir() if p.suffix in (".yaml", ".yml", ".json")),
                           key=lambda p: p.stem):
            digest.update(f"{kind}/{path.stem}\0".encode() + path.read_bytes())
    assert f'"database_hash": "{digest.hexdigest()[:16]}"' in done.stdout


def test_console_script_run_twice_gives_the_same_report(tmp_path):
    """The first run parses the databases and writes the cache; the second reads the cache: same report."""
    entry = "import sys; sys.argv[0] = 'genmodel'; from genmodel.interfaces.cli import _entry; _entry()"
    env = {"GENMODEL_USER_DIR": str(tmp_path / "user"), "GENMODEL_CACHE_DIR": str(tmp_path / "cache")}
    first = run_cli(["estimate", "--json"], env, entry)
    assert first.returncode == 0, first.stderr
    assert len(list((tmp_path / "cache").glob("parsed-*.marshal"))) == 1
    second = run_cli(["estimate", "--json"], env, entry)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


# ---- the parse cache -----------------------------------------------------------------------------------------------

def builtin_files():
    return sorted((ROOT / "models_db").glob("*.yaml")) + sorted((ROOT / "hardware_db").rglob("*.yaml"))


def test_cached_mappings_equal_parsed_ones(tmp_path, monkeypatch):
    """Every built-in file read back from the cache (the parser then not called at all) is the mapping it parses to."""
    paths = builtin_files()
    cold = ParseCache(tmp_path / "c.marshal")
    parsed = [cold.load_mapping(p) for p in paths]
    cold.save()
    assert parsed == [load_mapping(p) for p in paths]

    def no_parsing(text, where):
        raise AssertionError(f"{where} parsed again")

    monkeypatch.setattr(files, "parse_mapping", no_parsing)
    warm = ParseCache(tmp_path / "c.marshal")
    assert [warm.load_mapping(p) for p in paths] == parsed


def test_cache_keys_on_the_text(tmp_path):
    """An edited file is parsed again; a file changed back is served from the cache again."""
    path = tmp_path / "a.yaml"
    cache = ParseCache(tmp_path / "c.marshal")
    path.write_text("x: 1\n")
    assert cache.load_mapping(path) == {"x": 1}
    path.write_text("x: 2\n")
    assert cache.load_mapping(path) == {"x": 2}
    cache.save()
    path.write_text("x: 1\n")
    assert ParseCache(tmp_path / "c.marshal").load_mapping(path) == {"x": 1}
    # the same text read as JSON (by its name) is another entry: '{"x": 1}' parses alike either way, but 'x: 1'
    # is no JSON, and a cached YAML reading must not stand in for it
    (tmp_path / "a.json").write_text("x: 1\n")
    with pytest.raises(SpecError, match=r"a\.json is not valid JSON"):
        cache.load_mapping(tmp_path / "a.json")


def test_changed_yaml_invalidates_the_database_cache(cache_dir, user_dir):
    """A user entry edited between two runs is read as edited (the cache is keyed by each file's text)."""
    folder = user_dir / "models"
    folder.mkdir(parents=True)
    (folder / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    assert genmodel.get_model("tiny").num_layers == 2
    assert list(cache_dir.glob("parsed-*.marshal"))
    registry.reload()
    (folder / "tiny.yaml").write_text(yaml.safe_dump({**TINY, "num_layers": 3}))
    assert genmodel.get_model("tiny").num_layers == 3


@pytest.mark.parametrize(("text", "needle"), [
    ("name: [unclosed\n", "is not valid YAML/JSON"),
    ("- a list\n", "must hold one mapping"),
    ("a: &x [1, 2]\nb: *x\nc: {\n", "is not valid YAML/JSON"),
])
def test_a_file_that_does_not_parse_fails_alike_every_time(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as plain:
        load_mapping(path)
    assert needle in str(plain.value)
    cache = ParseCache(tmp_path / "c.marshal")
    for _ in range(2):
        with pytest.raises(SpecError) as cached:
            cache.load_mapping(path)
        assert str(cached.value) == str(plain.value)
        cache.save()
    assert not (tmp_path / "c.marshal").exists()  # nothing parsed, nothing stored


def test_validation_errors_read_the_same_from_the_cache(cache_dir, user_dir):
    """A user file that parses but does not validate: the same message on a cold and on a warm cache, and the same
    as reading the file alone."""
    folder = user_dir / "hardware"
    folder.mkdir(parents=True)
    bad = yaml.safe_load((ROOT / "hardware_db" / "h100-sxm.yaml").read_text())
    bad["name"] = "toy"
    bad["memory_tiers"][0]["capacity_bytes"] = -1
    (folder / "toy.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(SpecError) as alone:
        load_spec_file(folder / "toy.yaml", HardwareSpec)
    messages = []
    for _ in range(2):
        registry.reload()
        with pytest.raises(SpecError) as exc:
            genmodel.get_hardware("h100-sxm")
        messages.append(str(exc.value))
    assert messages == [str(alone.value)] * 2
    assert "toy.yaml" in messages[0] and "capacity_bytes" in messages[0]


def test_a_damaged_cache_file_is_ignored(tmp_path):
    """One flipped byte (caught by the checksum) or a file of garbage: the files are parsed again, correctly."""
    path = tmp_path / "a.yaml"
    path.write_text("x: [1, 2]\n")
    cache_file = tmp_path / "c.marshal"
    cache = ParseCache(cache_file)
    cache.load_mapping(path)
    cache.save()
    raw = bytearray(cache_file.read_bytes())
    raw[-3] ^= 0xFF
    cache_file.write_bytes(bytes(raw))
    assert ParseCache(cache_file).load_mapping(path) == {"x": [1, 2]}
    cache_file.write_bytes(b"\x00garbage" * 10)
    assert ParseCache(cache_file).load_mapping(path) == {"x": [1, 2]}


def test_an_unusable_cache_folder_costs_nothing(cache_dir, monkeypatch, tmp_path):
    """A cache 'folder' that is a file: the databases load, nothing raised, nothing written."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("GENMODEL_CACHE_DIR", str(blocker))
    registry.reload()
    assert genmodel.get_hardware("h100-sxm").name == "h100-sxm"
    assert blocker.read_text() == "x"


def test_values_marshal_cannot_hold_are_parsed_every_time(tmp_path):
    """A YAML timestamp (a datetime, which marshal cannot store) still reads correctly, from the parser."""
    path = tmp_path / "a.yaml"
    path.write_text("when: 2025-01-02\n")
    cache = ParseCache(tmp_path / "c.marshal")
    assert cache.load_mapping(path) == load_mapping(path)
    assert str(cache.load_mapping(path)["when"]) == "2025-01-02"
    cache.save()
    assert not (tmp_path / "c.marshal").exists()


# ---- the entry cache (validated entries) ---------------------------------------------------------------------------

KINDS = (("models_db", "ModelSpec"), ("hardware_db", "HardwareSpec"), ("hardware_db/platforms", "PlatformSpec"),
         ("engines_db", "EngineSpec"))


def builtin_entries():
    from genmodel.specs import engine, hardware, model, platform

    classes = {"ModelSpec": model.ModelSpec, "HardwareSpec": hardware.HardwareSpec,
               "PlatformSpec": platform.PlatformSpec, "EngineSpec": engine.EngineSpec}
    return [(path, classes[cls]) for folder, cls in KINDS for path in sorted((ROOT / folder).glob("*.yaml"))]


def test_cached_entries_equal_validated_ones(cache_dir, tmp_path, monkeypatch):
    """Every built-in model, device, platform and engine read back from the entry cache (neither parser nor
    validator then called) is, field by field, the spec validating its file gives, of the same class, and estimates
    alike."""
    from genmodel.data import entry_cache

    entries = builtin_entries()
    cold = entry_cache.EntryCache(tmp_path / "e.cache")
    first = [cold.load(path, cls, load_mapping_of) for path, cls in entries]
    cold.save()
    fresh = [load_spec_file(path, cls) for path, cls in entries]
    assert first == fresh
    expected = genmodel.estimate("llama-3.1-8b", "h100-sxm")  # (the databases of this process read before the patch)

    def no_validation(*args, **kwargs):
        raise AssertionError("validated again")

    monkeypatch.setattr(entry_cache, "validate_spec", no_validation)
    warm = entry_cache.EntryCache(tmp_path / "e.cache")
    again = [warm.load(path, cls, no_validation) for path, cls in entries]
    assert again == fresh
    assert [type(spec) for spec in again] == [cls for _, cls in entries]
    stems = [path.stem for path, _ in entries]
    got = genmodel.estimate(again[stems.index("llama-3.1-8b")], again[stems.index("h100-sxm")])
    assert (got.tpot_s, got.ttft_s, got.total_memory_bytes) == \
        (expected.tpot_s, expected.ttft_s, expected.total_memory_bytes)


def load_mapping_of(text, where):
    return files.parse_mapping(text, where)


def test_entry_cache_keys_on_the_text_and_the_spec_code(tmp_path, monkeypatch):
    """An edited file is validated again (a bad edit raises, a good one reads as edited); so is every file when the
    spec code changes (a stand-in salt for an edited spec module or another Pydantic)."""
    from genmodel.data import entry_cache

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    calls = []
    real = entry_cache.validate_spec

    def counting(*args):
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(entry_cache, "validate_spec", counting)
    cache = entry_cache.EntryCache(tmp_path / "e.cache")
    assert cache.load(path, ModelSpec, load_mapping_of).num_layers == 2
    cache.save()
    assert entry_cache.EntryCache(tmp_path / "e.cache").load(path, ModelSpec, load_mapping_of).num_layers == 2
    assert calls == ["tiny.yaml"]  # the second read came back validated
    path.write_text(yaml.safe_dump({**TINY, "num_layers": -3}))
    with pytest.raises(SpecError, match="num_layers"):
        entry_cache.EntryCache(tmp_path / "e.cache").load(path, ModelSpec, load_mapping_of)
    path.write_text(yaml.safe_dump({**TINY, "num_layers": 3}))
    assert entry_cache.EntryCache(tmp_path / "e.cache").load(path, ModelSpec, load_mapping_of).num_layers == 3
    assert len(calls) == 3
    monkeypatch.setattr(entry_cache, "code_salt", lambda: b"other spec code")
    assert entry_cache.EntryCache(tmp_path / "e.cache").load(path, ModelSpec, load_mapping_of).num_layers == 3
    assert len(calls) == 4


def test_a_damaged_entry_cache_is_validated_again(tmp_path):
    """A flipped byte (the checksum), garbage, or a stored entry that reads back as something else: the file is
    validated again, correctly."""
    import pickle

    from genmodel.data import entry_cache

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    cache_file = tmp_path / "e.cache"
    cache = entry_cache.EntryCache(cache_file)
    cache.load(path, ModelSpec, load_mapping_of)
    cache.save()
    raw = bytearray(cache_file.read_bytes())
    raw[-3] ^= 0xFF
    cache_file.write_bytes(bytes(raw))
    assert entry_cache.EntryCache(cache_file).load(path, ModelSpec, load_mapping_of).num_layers == 2
    cache_file.write_bytes(b"\x00garbage" * 10)
    assert entry_cache.EntryCache(cache_file).load(path, ModelSpec, load_mapping_of).num_layers == 2
    stale = entry_cache.EntryCache(cache_file)
    stale.load(path, ModelSpec, load_mapping_of)
    stale._used = {key: pickle.dumps({"not": "a spec"}) for key in stale._used}
    stale._changed = True
    stale.save()
    assert entry_cache.EntryCache(cache_file).load(path, ModelSpec, load_mapping_of) == \
        load_spec_file(path, ModelSpec)


def test_a_second_estimate_builds_no_validator(tmp_path):
    """The first `genmodel estimate` validates the databases and stores the entries; the second reads them back and
    builds no spec validator at all (the model, device and engine classes stay unbuilt) and imports no YAML parser,
    with the same report."""
    probe = ("import sys; from genmodel.interfaces.cli import main; code = main(sys.argv[1:]); "
             "from genmodel.specs import engine, hardware, model; "
             "print([c.__pydantic_complete__ for c in (hardware.HardwareSpec, model.ModelSpec, engine.EngineSpec)]); "
             "print('yaml' in sys.modules); sys.exit(code)")
    env = {"GENMODEL_USER_DIR": str(tmp_path / "user"), "GENMODEL_CACHE_DIR": str(tmp_path / "cache")}
    first = run_cli(["estimate", "--json"], env, probe)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-2:] == ["[True, True, True]", "True"]
    assert len(list((tmp_path / "cache").glob("entries-*.cache"))) == 1
    second = run_cli(["estimate", "--json"], env, probe)
    assert second.returncode == 0, second.stderr
    # nor does it parse YAML, or import PyYAML (seventy-sixth session: about 8 ms of a start)
    assert second.stdout.splitlines()[-2:] == ["[False, False, False]", "False"]
    assert second.stdout.splitlines()[:-2] == first.stdout.splitlines()[:-2]


# ---- name lookups ------------------------------------------------------------------------------------------------

def test_find_entry_builds_no_error(monkeypatch):
    """Known names (any case, display names) are found without building a suggestion; unknown ones give None."""

    def no_suggestions(*args, **kwargs):
        raise AssertionError("suggestions built for a known name")

    monkeypatch.setattr(genmodel.errors, "closest_names", no_suggestions)
    assert registry.find_entry("platform", "DGX-H100").name == "dgx-h100"
    hw = genmodel.get_hardware("h100-sxm")
    assert registry.find_entry("hardware", f"  {hw.display_name.upper()} ") is hw
    assert registry.find_entry("model", "dgx-h100") is None
    assert genmodel.get_platform("dgx-h100").name == "dgx-h100"


def test_show_a_platform_builds_no_error(monkeypatch, capsys):
    """`genmodel show PLATFORM` looks in the model and device databases first, without building their errors."""
    monkeypatch.setattr(genmodel.errors, "closest_names", lambda *a, **k: pytest.fail("suggestions built"))
    assert main(["show", "dgx-h100"]) == 0
    assert "dgx-h100" in capsys.readouterr().out


def test_unknown_names_still_get_suggestions(capsys):
    assert main(["show", "dgx-h10"]) == 2
    err = capsys.readouterr().err
    assert "unknown model, hardware, platform, engine or use case 'dgx-h10'" in err and "'dgx-h100'" in err
    with pytest.raises(UnknownNameError, match="Did you mean 'dgx-h100'"):
        genmodel.get_platform("dgx-h10")


# ---- the one-command app -----------------------------------------------------------------------------------------

def command_names(typer_app):
    return [info.name or typer.main.get_command_name(info.callback.__name__) for info in typer_app.registered_commands]


@pytest.mark.parametrize(("argv", "expected"), [
    (["estimate", "--tp", "2"], ["estimate"]),
    (["--db", "somewhere", "serve"], ["serve"]),
    (["--db=somewhere", "--db", "else", "use-cases"], ["use-cases"]),
    (["import-hf", "x.json"], ["import-hf"]),
])
def test_app_for_a_command_holds_only_it(argv, expected):
    one = app_for(argv)
    assert one is not app and command_names(one) == expected
    assert len(command_names(app)) > 10  # the app itself keeps every command


@pytest.mark.parametrize("argv", [[], ["--help"], ["estimat"], ["--db", "x"], ["--db", "x", "--help", "estimate"]])
def test_anything_else_gets_the_whole_app(argv):
    assert app_for(argv) is app


@pytest.mark.parametrize("argv", [
    ["estimate", "--model", "llama-3.1-70b", "--hardware", "dgx-h100", "--tp", "8", "--json"],
    ["estimate", "--help"],
    ["platforms"],
    ["estimate", "--tp", "0"],
])
def test_one_command_app_answers_like_the_whole_app(argv, capsys):
    """Output and exit status through the one-command app are those of Typer running the whole app (under the
    console script's name, which ``main`` gives both its usage lines and its hints)."""
    code = main(argv)
    ours = capsys.readouterr()
    try:
        whole = app(args=argv, prog_name="genmodel", standalone_mode=False)
    except typer.Exit as exc:
        whole = exc.exit_code
    except genmodel.GenmodelError:
        whole = 2
    reference = capsys.readouterr()
    assert (code, ours.out) == (whole or 0, reference.out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are the Linux convention")
def test_platform_folders_follow_the_environment(tmp_path, monkeypatch):
    """The user and cache folders (remembered per environment) follow XDG_DATA_HOME and XDG_CACHE_HOME."""
    monkeypatch.delenv("GENMODEL_USER_DIR", raising=False)
    monkeypatch.delenv("GENMODEL_CACHE_DIR", raising=False)
    for name in ("a", "b"):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / name / "data"))
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / name / "cache"))
        assert registry.user_dir() == tmp_path / name / "data" / "genmodel"
        assert registry.cache_dir() == tmp_path / name / "cache" / "genmodel"
