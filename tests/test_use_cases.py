"""Use cases as data (usecases_db/, genmodel/specs/usecase.py): every shipped entry loads and carries the published
figures it cites; bad files give one SpecError naming the field; users add their own like models."""

import json
from pathlib import Path

import pytest
import yaml

import genmodel
from genmodel.data import registry
from genmodel.errors import InputTypeError, SpecError, UnknownNameError
from genmodel.interfaces.cli import main
from genmodel.specs.files import load_spec_file
from genmodel.specs.usecase import UseCaseSpec
from tests.refusals import cli_error as _cli_error
from tests.refusals import refused

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {"chat", "question-answering", "summarization", "code-completion", "agentic-coding", "rag", "reasoning",
           "deep-research", "mlperf-llama2-70b-server", "mlperf-llama2-70b-interactive",
           "mlperf-llama3.1-405b-server"}


def _entry(**fields) -> dict:
    base = {"name": "my-case", "display_name": "My case", "description": "A test use case.",
            "input_tokens": 1000, "output_tokens": 100, "ttft_target_s": "1 s", "tpot_target_s": "50 ms",
            "percentile": 0.9, "mode": "rate", "request_rate_per_s": 2.0, "source": "test fixture"}
    return {k: v for k, v in {**base, **fields}.items() if v is not None}


def test_every_shipped_use_case_loads_and_cites_a_source():
    files = sorted((ROOT / "usecases_db").glob("*.yaml"))
    assert {f.stem for f in files} == SHIPPED == set(genmodel.all_use_cases())
    for path in files:
        case = load_spec_file(path, UseCaseSpec)
        assert case.source.strip() and case.notes, path.name  # every entry says where and what is judged
        assert (case.batch is None) == (case.mode == "rate") and (case.request_rate_per_s is None) == (
            case.mode == "batch"), path.name


# MLPerf Inference latency limits, github.com/mlcommons/inference loadgen/mlperf.conf ("All times are in milli
# seconds"; "*.Server.target_latency_percentile = 99"):
#   llama2-70b.Server.ttft_latency = 2000, tpot_latency = 200
#   llama2-70b-interactive.Server.ttft_latency = 450, tpot_latency = 40
#   llama3_1-405b.Server.ttft_latency = 6000, tpot_latency = 175
#   llama3_1-405b-interactive.Server.ttft_latency = 4500, tpot_latency = 80
#   deepseek-r1.Server.ttft_latency = 2000, tpot_latency = 80
MLPERF = [
    ("mlperf-llama2-70b-server", 2000, 200),
    ("mlperf-llama2-70b-interactive", 450, 40),
    ("mlperf-llama3.1-405b-server", 6000, 175),
    ("reasoning", 2000, 80),  # deepseek-r1 Server
    ("chat", 450, 40),  # llama2-70b-interactive limits taken for chat
    ("agentic-coding", 4500, 80),  # llama3_1-405b-interactive
    ("deep-research", 6000, 175),  # llama3_1-405b Server
]


@pytest.mark.parametrize(("name", "ttft_ms", "tpot_ms"), MLPERF)
def test_mlperf_targets_are_the_published_limits(name, ttft_ms, tpot_ms):
    case = genmodel.get_use_case(name)
    assert case.ttft_target_s == pytest.approx(ttft_ms / 1000, rel=1e-12)
    assert case.tpot_target_s == pytest.approx(tpot_ms / 1000, rel=1e-12)
    assert case.percentile == 0.99


def test_mlperf_output_lengths_are_the_reference_means():
    # reference READMEs in github.com/mlcommons/inference: llama2-70b "Tokens per sample: 294.45",
    # llama3.1-405b 'tokens_per_sample': 684.68, deepseek-r1 "mean-output-tok-len": 3886.2274
    for name, tokens in (("mlperf-llama2-70b-server", 294.45), ("mlperf-llama2-70b-interactive", 294.45),
                         ("mlperf-llama3.1-405b-server", 684.68), ("reasoning", 3886.2274)):
        assert genmodel.get_use_case(name).output_tokens == pytest.approx(tokens, abs=0.5), name


# GenZ (arXiv 2406.01698) use-case table, as in github.com/abhibambhaniya/GenZ-LLM-Analyzer "Paper charts/
# variables.py": (batch, beam, input tokens, output tokens, prefill latency s) and decode latency s per token
GENZ = [
    ("question-answering", 1, 4, 1000, 200, 0.2, 0.010),  # 'QA'
    ("rag", 1, 4, 10000, 200, 0.4, 0.010),  # 'QA + RAG'
    ("summarization", 1, 4, 15000, 1000, 2.0, 0.020),  # 'Summarization'
]


@pytest.mark.parametrize(("name", "batch", "beams", "inp", "out", "ttft", "tpot"), GENZ)
def test_genz_use_cases_carry_the_paper_table(name, batch, beams, inp, out, ttft, tpot):
    case = genmodel.get_use_case(name)
    assert (case.mode, case.batch, case.samples_per_prompt) == ("batch", batch, beams)
    assert (case.input_tokens, case.output_tokens) == (inp, out)
    assert case.ttft_target_s == pytest.approx(ttft) and case.tpot_target_s == pytest.approx(tpot)
    assert case.sequences_per_batch == batch * beams


def test_code_completion_targets_are_distserve_slo():
    # DistServe artifact (github.com/LLMServe/DistServe, evaluation/ae-scripts/e2e/_plot.py, opt-66b-humaneval):
    # TTFT 0.125 s, TPOT 0.2 s, attainment 90
    case = genmodel.get_use_case("code-completion")
    assert (case.ttft_target_s, case.tpot_target_s, case.percentile) == (0.125, 0.2, 0.9)


def test_agentic_coding_is_the_copilot_trace_per_call_mean():
    # GitHub Copilot coding-agent traces 2026, dataset card: 9,310,255 LLM calls, 631.4B prompt tokens, 4.91B
    # completion tokens, 540.95B cached prompt tokens, 7 days
    case = genmodel.get_use_case("agentic-coding")
    calls = 9_310_255
    assert case.input_tokens == pytest.approx(631.4e9 / calls, rel=1e-4)
    assert case.output_tokens == pytest.approx(4.91e9 / calls, rel=1e-3)
    assert case.prefix_hit == pytest.approx(540.95 / 631.4, abs=1e-3)
    assert case.request_rate_per_s == pytest.approx(calls / (7 * 86400), rel=1e-3)


BAD = [
    ({"input_tokens": float("nan")}, "input_tokens"),
    ({"output_tokens": -5}, "output_tokens"),
    ({"tpot_target_s": "-40 ms"}, "tpot_target_s"),
    ({"ttft_target_s": "2 GB"}, "ttft_target_s"),
    ({"source": None}, "source"),
    ({"source": "  "}, "source"),
    ({"request_rate_per_s": None}, "request_rate_per_s"),
    ({"mode": "batch"}, "batch"),
    ({"percentile": 99}, "percentile"),
    ({"percentile": 0}, "percentile"),
    ({"percentile": 1.0}, "percentile"),
    ({"samples_per_prompt": 0}, "samples_per_prompt"),
    ({"input_cv": -0.1}, "input_cv"),
    ({"prefix_hit": 1.0}, "prefix_hit"),
    ({"mode": "poisson"}, "mode"),
    ({"typo_field": 1}, "typo_field"),
]


BAD_USE_CASES = [
    ({"input_tokens": 1e308}, "input_tokens"),
    ({"input_tokens": 0.5}, "input_tokens"),
    ({"output_tokens": 2.0**41}, "output_tokens"),
    ({"samples_per_prompt": 10**18}, "samples_per_prompt"),
    ({"samples_per_prompt": 1025}, "samples_per_prompt"),
    ({"percentile": 1e-308}, "percentile"),
    ({"percentile": 0.9999999999}, "percentile"),
    ({"request_rate_per_s": 1e308}, "request_rate_per_s"),
    ({"request_rate_per_s": 1e-308}, "request_rate_per_s"),
    ({"mode": "batch", "request_rate_per_s": None, "batch": 2**33}, "batch"),
    ({"display_name": "a\x00b"}, "display_name"),
    ({"tpot_target_s": "2 d"}, "tpot_target_s"),
]


def _load_error(tmp_path, change: dict) -> str:
    """The one-line ``SpecError`` of loading a use-case file with ``change`` made to a good entry."""
    path = tmp_path / "my-case.yaml"
    path.write_text(yaml.safe_dump(_entry(**change)))
    with pytest.raises(SpecError) as err:
        genmodel.get_use_case(str(path))
    message = str(err.value)
    assert "\n" not in message and message.startswith("my-case.yaml: "), message
    return message


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_a_bad_file_gives_one_spec_error_naming_file_and_field(tmp_path, change, field):
    message = _load_error(tmp_path, change)
    assert field in message, message


@pytest.mark.parametrize(("change", "field"), BAD_USE_CASES,
                         ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_USE_CASES)])
def test_a_use_case_out_of_range_is_refused_on_load(tmp_path, change, field):
    message = _load_error(tmp_path, change)
    assert message.startswith(f"my-case.yaml: {field}"), message
    assert "--" not in message, message  # no command-line option the user never gave


def test_rate_mode_without_a_rate_says_what_is_missing():
    with pytest.raises(SpecError, match="mode 'rate' needs request_rate_per_s"):
        UseCaseSpec.model_validate(_entry(request_rate_per_s=None))
    with pytest.raises(SpecError, match="batch is for mode 'batch'"):
        UseCaseSpec.model_validate(_entry(batch=4))


def test_quantities_take_units():
    case = UseCaseSpec.model_validate(_entry(ttft_target_s="1.5 s", tpot_target_s="25 ms"))
    assert (case.ttft_target_s, case.tpot_target_s) == (1.5, 0.025)
    assert UseCaseSpec.model_validate(_entry(ttft_target_s=0.3)).ttft_target_s == 0.3  # a bare number is seconds


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnknownNameError) as err:
        genmodel.get_use_case("chatt")
    assert "'chat'" in str(err.value) and "genmodel use-cases" in str(err.value)
    assert err.value.argument == "use_case"
    with pytest.raises(UnknownNameError, match="'summarization'"):
        genmodel.get_use_case("sumarization")
    assert genmodel.get_use_case("Chat Assistant").name == "chat"  # the display name, any case
    case = genmodel.get_use_case("rag")
    assert genmodel.get_use_case(case) is case
    with pytest.raises(InputTypeError, match="use_case must be"):
        genmodel.get_use_case(3)  # type: ignore[arg-type]


def test_cli_lists_them_and_json_parses(capsys):
    assert main(["use-cases"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SHIPPED)
    assert "450 ms" in out and "P90" in out and "batch 1" in out
    assert main(["use-cases", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["genmodel_version"] == genmodel.__version__ and "database_hash" in data
    rows = {r["name"]: r for r in data["use_cases"]}
    assert set(rows) == SHIPPED
    assert rows["mlperf-llama2-70b-server"]["ttft_target_s"] == 2.0  # SI seconds
    assert "batch" not in rows["chat"]  # unset fields are left out


def test_a_user_use_case_is_found_and_listed(user_dir, capsys):
    folder = user_dir / "usecases"
    folder.mkdir(parents=True)
    (folder / "my-case.yaml").write_text(yaml.safe_dump(_entry()))
    registry.reload()
    assert genmodel.get_use_case("my-case").request_rate_per_s == 2.0
    assert set(genmodel.all_use_cases()) == SHIPPED | {"my-case"}
    assert main(["use-cases"]) == 0 and "my-case" in capsys.readouterr().out


def test_a_bad_user_file_stops_the_load_naming_it(user_dir, capsys):
    folder = user_dir / "usecases"
    folder.mkdir(parents=True)
    (folder / "my-case.yaml").write_text(yaml.safe_dump(_entry(percentile=95)))
    registry.reload()
    with pytest.raises(SpecError, match=r"my-case\.yaml: percentile: must be a fraction in \(0, 1\)"):
        genmodel.all_use_cases()
    assert main(["use-cases"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_user_use_case_cannot_replace_a_built_in(user_dir):
    folder = user_dir / "usecases"
    folder.mkdir(parents=True)
    (folder / "chat.yaml").write_text(yaml.safe_dump(_entry(name="chat")))
    registry.reload()
    with pytest.raises(SpecError, match="defined twice"):
        genmodel.get_use_case("chat")


def test_the_example_in_data_md_is_a_valid_use_case():
    text = (ROOT / "docs" / "data.md").read_text()
    section = text.split("## Use cases", 1)[1].split("\n## ", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    case = UseCaseSpec.model_validate(yaml.safe_load(block))
    assert (case.name, case.ttft_target_s, case.percentile) == ("my-support-bot", 0.8, 0.95)


# ---- the ranges every figure is checked against on load (genmodel.specs.usecase), and what a command makes of them

def test_the_percentile_message_shows_the_value_given(tmp_path):
    path = tmp_path / "my-case.yaml"
    path.write_text(yaml.safe_dump(_entry(percentile=0.9999999999)))
    with pytest.raises(SpecError, match=r"0\.9999999999"):
        genmodel.get_use_case(str(path))


def test_a_bad_user_use_case_stops_use_cases_naming_file_and_field(user_dir, capsys):
    (user_dir / "usecases").mkdir(parents=True)
    (user_dir / "usecases" / "my-case.yaml").write_text(yaml.safe_dump(_entry(input_tokens=1e308)))
    from genmodel.data import registry

    registry.reload()
    line = _cli_error(["use-cases"], capsys)
    assert "my-case.yaml" in line and "input_tokens" in line


def test_the_edges_of_the_use_case_ranges_load(tmp_path):
    path = tmp_path / "my-case.yaml"
    path.write_text(yaml.safe_dump(_entry(input_tokens=2**40, output_tokens=1, samples_per_prompt=1024,
                                          percentile=0.99999, request_rate_per_s=1e9)))
    case = genmodel.get_use_case(str(path))
    assert case.input_tokens == 2**40 and case.percentile == 0.99999 and case.request_rate_per_s == 1e9


def test_a_fractional_mean_length_is_rounded_by_requirements():
    """A use case's lengths are means (MLPerf's 294.45 tokens per sample): requirements rounds them to whole tokens,
    as a sweep over use cases does, instead of refusing them as --output-tokens."""
    case = genmodel.get_use_case("mlperf-llama2-70b-server")
    assert case.output_tokens == 294.45
    result = genmodel.requirements("llama-3.1-8b", use_case=case.name, request_rate=1.0)
    assert result.settings["output_tokens"] == 294 and result.settings["input_tokens"] == 512


def test_an_explicit_fractional_length_is_still_refused():
    refused(lambda: genmodel.requirements("llama-3.1-8b", use_case="chat", output_tokens=1.5), "output_tokens")
