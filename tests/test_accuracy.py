"""Out-of-sample accuracy on a frozen snapshot of the validation data (docs/validation.md, "Accuracy").

The figures asserted here are leave-one-source-out: every hold-out group (publisher, engine, harness) is predicted by
a fit made without it. They are the figures the README and docs/validation.md quote, with a small margin; the
issue's goals that the current model does not reach are asserted at what it does reach and listed as not met in
docs/validation.md. A changed data file changes the figures: update ``SNAPSHOT_SHA256`` deliberately, re-run
``genmodel validate --calibrate --write`` and put the new figures in the docs.
"""

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

import genmodel
from genmodel import validation as v
from genmodel.engine import uncertainty
from genmodel.table import Table
from genmodel.validation import bands

DATA = Path(__file__).resolve().parent.parent / "validation" / "measured.csv"
SNAPSHOT_SHA256 = "577e2dd608fca0baf02eae3ded6817643fcf53aa861432634161e8bb8815ec15"


@pytest.fixture(scope="module")
def rows():
    return v.load_rows(DATA)


@pytest.fixture(scope="module")
def held_out(rows):
    return v.leave_one_source_out(rows)


@pytest.fixture(scope="module")
def defaults(rows):
    return v.apply(rows, {})


def test_the_snapshot_is_the_one_the_figures_were_measured_on():
    digest = hashlib.sha256(DATA.read_bytes()).hexdigest()
    assert digest == SNAPSHOT_SHA256, (
        "validation/measured.csv changed: re-run 'genmodel validate --calibrate --write', update the figures in "
        "README.md, docs/validation.md and this file, then SNAPSHOT_SHA256")


def test_leave_one_source_out_errors(held_out):
    s = v.summarize(held_out)
    decode, prefill = s["phase:decode"], s["phase:prefill"]
    assert decode["n"] >= 250 and decode["sources"] >= 15 and prefill["n"] >= 70 and prefill["sources"] >= 8
    # measured on the snapshot: decode 15.8% (goal 20%, met; 16.0% before history item 46; 15.5% with the 2 us
    # kernel floor, before item 38; 17.1% before the MI300X's measured GEMM fraction, item 34; 17.0% before vLLM's
    # eager steps, item 31, moved Qwen's three enforce_eager rows), prefill 22.3% (goal 25%, met; 24.3% before item
    # 38; client-timed TTFTs get the engine's 4 ms of server time, gpustack's hold 15-45 ms: docs/validation.md)
    assert decode["median_abs_error_pct"] <= 17.0
    assert prefill["median_abs_error_pct"] <= 25.0
    # the median of the per-source medians (14.8%, 20.1%; 13.6%, 20.2% before item 38; decode 14.8% before item 34)
    assert decode["median_of_source_medians_pct"] <= 16.0
    assert prefill["median_of_source_medians_pct"] <= 24.0
    # within +-25%: decode 68.7% (goal 60%, met), prefill 54.9% (not met alone), all 611 rows 64.8% (396; goal 60%;
    # 62.4% before item 34, 63.0% before item 38)
    assert decode["within_25pct"] >= 0.60 and prefill["within_25pct"] >= 0.45
    rows = decode["n"] + prefill["n"]
    assert (decode["within_25pct"] * decode["n"] + prefill["within_25pct"] * prefill["n"]) / rows >= 0.60
    # the calibrated prediction has no systematic lean on held-out decode rows (the issue's starting point: -32%)
    assert abs(decode["median_signed_error_pct"]) <= 8.0


def test_served_rows_out_of_sample(held_out):
    """Continuous-batching rows predicted by serve (never fitted on): measured 24.8% median on 72 rows from 5
    sources, 50% within 25% (27.9% and 49% before history item 46; docs/validation.md lists why: synchronized closed
    loops, vLLM-TPU, B200 max load)."""
    s = v.summarize(held_out)["batching:served"]
    assert s["n"] >= 50 and s["sources"] >= 4
    assert s["median_abs_error_pct"] <= 33.0 and s["within_25pct"] >= 0.35


def test_physics_defaults_alone(defaults):
    s = v.summarize(defaults)
    # measured: decode 17.6%, prefill 25.6% (goal <= 30% for both, met; 18.5% and 27.6% before history item 38)
    assert s["phase:decode"]["median_abs_error_pct"] <= 24.0
    assert s["phase:prefill"]["median_abs_error_pct"] <= 30.0


@pytest.fixture(scope="module")
def fits(rows):
    return v.calibrate(rows)


@pytest.fixture(scope="module")
def pooled(rows, held_out, defaults, fits):
    """The errors the shipped bands are made from (history item 45): ``measured.csv`` held out, and the independent
    rows predicted by the fit on ``measured.csv`` (calibrated) or by the defaults, which no fit used."""
    independent = v.load_rows(INDEPENDENT)
    return (Table.concat([held_out, v.apply(independent, fits)]),
            Table.concat([defaults, v.apply(independent, {})]))


def test_band_coverage_out_of_sample(pooled):
    # nested: each source's rows against bands built from the other sources' out-of-sample errors only
    calibrated, plain = bands.coverage(pooled[0]), bands.coverage(pooled[1])
    # (80.2% of 1,786 rows and 76.1% of 93 sources with the thirty-first round's 42 static rows, classes 77.3-85.5%;
    # 79.8% of 1,744 rows and 77.0% of 89 sources with the thirtieth round's 30 static rows, classes 77.3-85.5%;
    # 79.9% of 1,714 rows and 77.1% of 88 sources with the twenty-ninth round's 94 static rows, classes 77.3-85.5%;
    # 79.9% of 1,620 rows and 76.6% of 85 sources with the twenty-eighth round's 80 static rows, classes 77.6-85.5%;
    # 80.2% of 1,540 rows and 77.6% of 82 sources with the twenty-seventh round's 67 static rows; 79.9% of 1,473 rows
    # and 77.4% of 81 sources with the twenty-sixth round, whose 24 one-request rows join; 79.3% of 1,449 rows and
    # 78.3% of 77 sources with the twenty-fifth round, whose Jetson rows join; 79.7% of 1,850 rows and 76.1% of 95
    # sources with the thirty-third round's 64 rows and history item 99's bound on llama.cpp's quantized GEMMs,
    # classes 77.8-85.5%; 79.8% of 1,865 rows and 75.6% of 97 sources with the thirty-fourth round and history item 100,
    # classes 78.4-84.2%)
    # (79.8% of 1,883 rows and 75.7% of 98 sources with the thirty-fifth round, classes 78.5-84.2%; 79.8% of 1,908
    # rows and 76.5% of 102 sources with the thirty-sixth, classes 78.4-84.2%; 80.6% of 1,936 rows and 75.5% of 108
    # sources with the thirty-seventh, classes 79.2-84.2%; 80.6% of 1,940 rows and 75.7% of 109 sources with the
    # thirty-eighth, classes 79.2-84.2%; 80.3% of 1,956 rows and 75.3% of 112 sources with the thirty-ninth, classes
    # 77.9-84.2%; 80.9% of 2,020 rows and 74.8% of 120 sources with the forty-first, classes 76.7-84.2%; 80.9% of
    # 2,038 rows and 74.9% of 121 sources with the forty-second, classes 76.7-84.4%; 81.1% of 2,042 rows and 75.1% of
    # 122 sources with the forty-fourth, classes 76.7-84.4%)
    assert calibrated["rows"] == 2042 and calibrated["groups"] == 122
    # measured 79.8% (79.7% of 1,429 rows before the twenty-third round; 79.8% of 1,388 before the twentieth round;
    # 78.3% before history item 77 joined thin cells with their parents' bands; 77.6% of 1,342 before the nineteenth
    # round; 77.7% before history item 75, 77.5% before item 74; 77.1% of 1,338 before the eighteenth round, 77.3% of
    # 1,332 before the seventeenth, 77.3% of 1,295 before the sixteenth; 75.1% before history item 51 weighted the
    # errors by source and asked 4 sources of a cell; 75.5% of 1,267 before the fifteenth round; 74.0% before history
    # item 50; 74.5% of 1,214 before the fourteenth round)
    assert 0.70 <= calibrated["row_coverage"] <= 0.90
    # measured 78.4% averaged over 76 sources (78.5% of 75 before the twenty-third round; 78.4% of 72 before the
    # twentieth round; 76.9% before history item 77, 76.3% of 69 before the nineteenth round, 76.0% of 68 before the
    # eighteenth round, 75.6% of 66 before the seventeenth, 75.2% of 64 before the sixteenth; 73.1% before item 51;
    # 73.0% of 62 before the fifteenth round)
    assert 0.70 <= calibrated["group_coverage"] <= 0.90
    # per phase and device-count class of the replica (1, 2-4, 5+ devices): decode 80.6%, 74.6%, 78.0%; prefill 81.4%,
    # 85.5%, 80.3% (prefill 2-4 and 5+ 84.4%, 80.1% before the twenty-third round; decode 81.2%, 73.8%, 78.0% before the
    # twentieth round; 78.7%, 73.8%, 76.5%, 81.4%, 84.4%, 76.6% before history item 77; decode 77%, 72.8%, 76%, prefill
    # 80%, 84%, 77% before the nineteenth round; decode 2-4 75.5% before the seventeenth round; decode 77%, 75%, 74%
    # before the sixteenth; 76%, 74%, 70%; 78%, 81%, 74% before item 51; from measured.csv alone, 5+-device decode rows
    # of the independent file were covered 50%, item 45)
    # With the twenty-ninth round: decode 80.7%, 77.3%, 78.0%, prefill 79.1%, 85.5%, 81.9%
    by_class = calibrated["by_devices"]
    assert set(by_class) == {f"{p} {s}" for p in ("decode", "prefill") for s in ("1", "2-4", "5+")}
    assert all(0.70 <= c["coverage"] <= 0.90 for c in by_class.values()), by_class
    # per model architecture (history item 95): estimate's cells pooled over dense and MoE models cover each 73-84%,
    # so they are not split (serve's are, below): decode dense 80.6%, MoE 75.9%, prefill dense 84.0%, MoE 73.0% with
    # the twenty-ninth round (80.6%, 73.1%, 83.6%, 76.6% before it); the defaults' 81.7%, 74.4%, 86.6%, 75.7%
    by_architecture = calibrated["by_architecture"]
    # (with the thirtieth: 80.7%, 75.4%, 84.0%, 73.4%; the defaults' 81.8%, 73.9%, 86.3%, 76.4%; with the
    # thirty-first: 81.5%, 76.2%, 84.0%, 73.5%; the defaults' 82.5%, 76.6%, 86.3%, 77.3%; with the thirty-third and
    # history item 99: 80.7%, 76.9%, 83.8%, 71.1%, the defaults' 82.5%, 76.9%, 86.6%, 76.3%; with the thirty-fourth
    # and history item 100: 81.0%, 76.4%, 83.8%, 71.4%, the defaults' 82.4%, 76.4%, 86.8%, 75.6%; with the
    # thirty-fifth: 81.0%, 77.3%, 83.5%, 70.8%, the defaults' 82.4%, 77.3%, 86.8%, 74.4%; with the thirty-sixth:
    # 81.0%, 77.4%, 83.4%, 70.8%, the defaults' 82.6%, 77.1%, 86.7%, 74.4%; with the thirty-seventh: 82.7%, 76.3%,
    # 84.9%, 69.3%, the defaults' 84.7%, 75.4%, 87.6%, 73.8%: MoE prompts below 70% for the first time, by the round's
    # six Qwen3-30B-A3B TTFTs at batch 16, 131-887% slow (the gatherer flagged them as likely one request's)
    # (with the thirty-eighth: 82.7%, 76.4%, 84.9%, 69.6%, the defaults' 84.3%, 75.5%, 87.6%, 74.0%; with the
    # thirty-ninth: 82.0%, 76.4%, 84.9%, 69.6%, the defaults' 83.4%, 75.5%, 87.7%, 74.0%; with the forty-first:
    # 82.7%, 75.5%, 85.6%, 73.5%, the defaults' 84.0%, 74.9%, 88.3%, 76.3%: MoE prompts back above 70% by the round's
    # 30 MoE prompt rows, most of them inside the bands the other sources make; with the forty-second: 82.9%, 74.9%,
    # 85.6%, 73.5%, the defaults' 84.2%, 74.1%, 87.8%, 75.5%; with the forty-fourth: 82.7%, 75.1%, 86.4%, 73.4%, the
    # defaults' 84.2%, 74.3%, 88.7%, 75.3%)
    assert {k: c["rows"] for k, c in by_architecture.items()} == {"decode dense": 933, "decode moe": 365,
                                                                  "prefill dense": 485, "prefill moe": 259}
    assert by_architecture["prefill moe"]["coverage"] == pytest.approx(0.734, abs=0.001)
    assert all(0.70 <= c["coverage"] <= 0.90 for k, c in {**by_architecture, **{f"defaults {k}": c for k, c in
                                                           plain["by_architecture"].items()}}.items()), by_architecture
    # the defaults' bands: measured 81.2%; per source 82.3% (80.9%, 81.7% before the twenty-third round; 81.2%, 81.9%
    # before the twentieth round; 79.7%, 80.7% before history item 77; 78.7%, 79.4% before the nineteenth round; 78.3%,
    # 79.2% before the eighteenth round, 78.6%, 78.9% before the seventeenth, 78.8%, 79.9% before the sixteenth; 75.4%,
    # 75.9% before item 51)
    assert 0.70 <= plain["row_coverage"] <= 0.90
    assert 0.70 <= plain["group_coverage"] <= 0.90
    # serve's bands, from the served rows of both files: measured 78.6% of 724 rows, 76.7% averaged over 34 sources
    # before history item 75 (78.9%, 77.3% before history item 64; 79.1%, 77.7% before item 61; 79.4% of 717 and 78.3%
    # of 33 before the seventeenth round; 77.7% before item 52; 72.9%, 73.6% before item 51). Its decode figures on
    # replicas of 5+ devices: 77% of 176 rows (61% before item 51: SGLang's cell stood on DataCrunch's and dstack's
    # rows, predicted 2.5x fast, and left out InferenceX's). Its prefill figures on one device, the lowest class: 68.4%
    # of 95 rows (65) since history item 64 priced a closed loop's life on its time-average step (the class's
    # closed-loop TTFTs moved by -6% to 0%: one row past its band's edge); 69.5% (66), one row below 70%, since the
    # forty-first session stopped counting a riding prompt's queries twice in a mixed step (serve's TTFTs of one-device
    # replicas, already fast, 0.1-8% faster); 70.5% (67) before it (69.5% before item 52, whose closed-loop runs moved
    # ATOM's TTFTs, which share cells with them; 68% before item 51: since history item 47 read augmxnt's cached
    # prompts, that band is narrower and IOG's TTFTs, predicted 30-80% slow, fall outside it; 77% before item 47).
    # Before history item 46: 75.3%, 77.8%; before item 48: 73.2%, 75.8%. Since history item 75 (early-2025 engines'
    # DeepSeek kernels): 75.7% of 724 rows, 75.6% of 34 sources, and its prefill figures on replicas of 5+ devices 64.4%
    # of 87 rows (56; 85.1%, 74, before): DataCrunch's SGLang 0.4.1 TTFTs moved from 83% to 34% fast, so the band they
    # made for dstack's MI300X TTFTs of SGLang 0.4.2 and vLLM 0.7.3 (still 70-75% fast) when dstack is held out no
    # longer reaches them. With the nineteenth round: 73.2% of 746 rows, 73.1% of 36 sources; its decode figures on
    # replicas of 2-4 devices 66.7% of 150 rows (82.3% of 147 before): the round's vLLM runs on two A100 PCIe cards
    # (cssnoeasy, 3 rows, predicted 9% high to 42% low in throughput) give vLLM's served decode cell of 2-4 devices the
    # four sources it needs of its own, so with dennislee22 (35 rows, mostly predicted fast) held out that cell is
    # made of sources predicted slow, and 29 of its rows fall below it (they fell back to the parent cell before).
    # History item 77 joins a cell standing on fewer than six sources with its first standing parent's band: 75.7% of
    # 746 rows and 75.4% of 36 sources, decode on 2-4 devices 78.7%. With the twentieth round: 78.6% of 776 rows,
    # 77.2% of 37 sources; its prefill figures on replicas of 5+ devices 84.5% of 97 rows (64.4% of 87 before): the
    # round's DeepSeek-V2.5 TTFTs on 16 A100s (vLLM, 57-94% fast) widen vLLM's served prefill cell of 5+ devices to
    # where dstack's MI300X TTFTs fall. With the twenty-fourth round: 77.1% of 896 rows, 76.5% of 39 sources; prefill on
    # 5+ devices 70.4% of 125 rows (its DeepSeek-R1 TTFTs, 68-98% fast, fall below every held-out band), decode on 2-4
    # devices 79.3% of 174. With the twenty-fifth round: 74.7% of 986 rows, 77.8% of 40 sources; decode on 2-4 and 5+
    # devices 75.5% and 72.9%, prefill 74.3% and 73.6% (its Qwen3-32B TPOTs, predicted slow, widen the decode cells).
    # With the twenty-sixth round: 75.5% of 998 rows, 76.5% of 40 sources; decode on 2-4 and 5+ devices 74.5% and
    # 72.8%, prefill 74.3% and 78.8%, prefill on one device 70.5% (67 of 95). With the twenty-eighth: 75.4% of 1,037
    # rows, 75.8% of 42 sources; prefill on one device 73.1% (76 of 104: wang-junjian's Thor TTFTs at eight clients,
    # predicted 32-69% fast, join the class inside the band of the other sources).
    # With serve's cells per model architecture (history item 95): 74.7% of rows, 75.9% of sources; prefill on one
    # device 71.2% (74 of 104); per architecture decode dense 71.6%, MoE 77.6%, prefill dense 73.4%, MoE 79.4% (69.0%,
    # 84.1%, 66.9%, 85.8% with one cell for both: the dense models' served figures fell short of 70%)
    served = bands.coverage(pooled[0], served=True)
    assert 0.70 <= served["row_coverage"] <= 0.90 and 0.70 <= served["group_coverage"] <= 0.90
    lowest = served["by_devices"].pop("prefill 1")
    # (121 of 159 with the forty-third round's Gaudi3 TTFT at 64 clients, 91% fast; 121 of 158 with the fortieth
    # round's 21 TTFTs of vLLM on one L4, 20-44% fast and three 6.5-8.1 times slow;
    # 102 of 137 with the thirty-eighth round's eleven TTFTs of gpt-oss-20b on one DGX Spark; 91 of 126 with the
    # thirty-sixth round's twelve TTFTs of vLLM and llama.cpp servers on one H100 or RTX 3090; 85
    # of 114 with the thirty-fifth round's two gpt-oss-20b TTFTs at 32 clients on one H100; 83 of 112 with the
    # thirty-fourth round's three TTFTs of gpt-oss-20b at one and eight clients; 80 of 109 since history item 99; 79
    # of 109 with the thirty-second round's two TTFTs of one TPU v6e; 77 of 107 with the thirtieth
    # round's three gpt-oss-20b TTFTs on RTX 5090 replicas; 74 of 104 before it, 76 of 104 before item 95)
    assert lowest["rows"] == 159 and lowest["coverage"] >= 121 / 159, lowest
    assert all(0.70 <= c["coverage"] <= 0.90 for c in served["by_devices"].values()), served["by_devices"]
    assert all(0.70 <= c["coverage"] <= 0.90 for c in served["by_architecture"].values()), served["by_architecture"]


def test_batch_one_llama_8b_on_h100():
    # the most common question: Llama-3.1-8B bf16, batch 1, one H100 SXM, 1,024 in / 256 out, served by vLLM.
    # Published: ALCF's LLM-Inference-Bench (2024) measured 0.994 s for 128 in / 128 out and 8.10 s for
    # 1,024 / 1,024 with vLLM on H100, i.e. about 7.7-7.9 ms per output token; vLLM and TensorRT-LLM users report
    # 6-7.5 ms with newer releases. The prediction must sit in the issue's 5.5-8 ms and its 80%
    # band must contain the published vLLM runs on an H100: ALCF's 7.7-7.9 ms and gpustack's 7.3 ms (Qwen3-8B)
    # (measured 7.44 ms, band 5.4-11.6 ms since history item 99 (7.47 ms, 5.6-11.6 ms before); the one-device cell of
    # dense models since history item 95; 5.1-11.6 ms
    # from the one-device cell, history item 45 (5.2-11.2 ms before history item
    # 51 weighted the bands' errors by source; 5.9-11.6 ms before the
    # fifteenth independent round's calm rows, predicted 16-47% slow on vLLM's profile, joined it; 6.1-11.6 ms
    # before item 50, whose profiles moved the TinyChat rows out of that cell's vLLM rows); 4.8-11.6 ms before
    # item 45, from the cell over all device counts, which then also had to hold 6 ms, a figure users report for
    # TensorRT-LLM).
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1, input_tokens=1024, output_tokens=256)
    assert 5.5e-3 <= r.tpot_s <= 8e-3
    assert r.metrics["tpot_s_low"] <= 7.3e-3 and r.metrics["tpot_s_high"] >= 7.9e-3


def test_held_out_alcf_vllm_rows(held_out):
    # the ALCF vLLM rows predicted by a fit that never saw them (their group held out): within 15%
    errors = {r.id: r.error_pct for r in held_out.rows() if r.id in ("ALCFV-01", "ALCFV-04")}
    assert len(errors) == 2 and all(abs(e) <= 15.0 for e in errors.values()), errors


INDEPENDENT = DATA.parent / "independent.csv"
INDEPENDENT_SHA256 = "7a1a66660cbdff1b1fd0f14b565cef4b009d37314b893b37658b8454577c16e1"
# the second round's hold-out groups (revision 11, validation/SOURCES.md)
SECOND_ROUND = {"azure-trtllm-pybenchmark", "google-tpurecipes-vllm-benchserve", "mit-han-lab-qserve-benchmark",
                "augmxnt-speedbench-benchserve", "augmxnt-llamacpp-llamabench"}
THIRD_ROUND = {"ggml-llamacpp-prs-llamabench", "sgl-project-sglang-prs-benchserving", "iog-vllm-benchserve",
               "janhq-jan-tokenspeed", "datacrunch-sglang-benchserve", "datacrunch-sglang-onebatch"}
# the fourth (revision 12): MoE models at batch 1-4
FOURTH_ROUND = {"semianalysis-inferencex-benchserve", "sgl-project-sglcookbook-benchserve"}
# the fifth (revision 12, blind with this release)
FIFTH_ROUND = {"dennislee22-vllm-benchserve", "amd-atom-recipes-benchserve", "raullenchai-rapidmlx-communitybench"}
# the sixth (revision 13, blind with history item 30): its rows by id (M6A-, M6B-), as two of its pull requests share
# the third round's group; M6A-01 to -20 and M6A-61 to -66 come from sources glimpsed while item 30 was designed
SIXTH_ROUND_IDS = ("M6A-", "M6B-")
# the seventh (revision 14, blind with history item 31): AMD's ROCm blog tables (M7A-) and Qualcomm AI Hub (M7B-, none
# expressible: 16-bit integer activations on an NPU listing int8 and fp32 only)
SEVENTH_ROUND_IDS = ("M7A-", "M7B-")
# the eighth (revision 15, blind with the seventh round's release, 8d5b843): NVIDIA GPUs (M8A-) and others (M8B-)
EIGHTH_ROUND_IDS = ("M8A-", "M8B-")
# the ninth (revision 16, blind with 0f1b779, the same model as 5ec12c6): NVIDIA GPUs (M9A-) and the MI300X (M9B-)
NINTH_ROUND_IDS = ("M9A-", "M9B-")
# the tenth (revision 17, blind with aa0dd7d): NVIDIA GPUs (M10A-, France Travail's harness on A100s) and others (M10B-)
TENTH_ROUND_IDS = ("M10A-", "M10B-")
# the eleventh (revision 18, blind with 4f85174, history item 38's release): NVIDIA GPUs (M11A-) and others (M11B-)
ELEVENTH_ROUND_IDS = ("M11A-", "M11B-")
# the twelfth (revision 19, blind with the twenty-third session's release: qwen2.5-32b and history item 41): NVIDIA GPUs
# (M12A-) and others (M12B-)
TWELFTH_ROUND_IDS = ("M12A-", "M12B-")
# the thirteenth (revision 20, blind with 7206e3f, history item 42's release): NVIDIA GPUs (M13A-, AWS's NIM runs on
# H100s) and others (M13B-, Ollama on an M3 Ultra, Moreh's vLLM runs on MI355X)
THIRTEENTH_ROUND_IDS = ("M13A-", "M13B-")
# the fourteenth (revision 21, blind with 43c3a5b, history item 48's release): NVIDIA GPUs only (M14A-, Hugging Face
# transformers' generate() timed by bitsandbytes' and optimum's benchmarks; the other part found no source)
FOURTEENTH_ROUND_IDS = ("M14A-",)
# the fifteenth (revision 22, blind with 941fe30, history item 50's release): NVIDIA GPUs (M15A-, zeux/calm's batch-1
# decode rates on an RTX 4090) and others (M15B-, MLX on an M2 Ultra)
FIFTEENTH_ROUND_IDS = ("M15A-", "M15B-")
# the sixteenth (revision 23, blind with f8c5567, history item 52's release): NVIDIA GPUs (M16A-, ModelScope EvalScope's
# QwQ-32B speed benchmark on A100s) and others (M16B-, optimum-habana's CI reference throughputs on Gaudi 2 and 3)
SIXTEENTH_ROUND_IDS = ("M16A-", "M16B-")
# the seventeenth (revision 24, blind with f62e0d8, the model of f8c5567): NVIDIA GPUs (M17A-, Kubesimplify's vLLM runs
# of Qwen3-235B-A22B on four RTX PRO 6000 Blackwell cards) and others (M17B-, a pure-JAX Qwen3-32B decode loop on a TPU
# v6e-8)
SEVENTEENTH_ROUND_IDS = ("M17A-", "M17B-")
# the eighteenth (revision 25, blind with 0126bf3, the model of f8c5567): MoE models (M18A-, llama.cpp's llama-bench
# beside the author's own engine on one RTX 5090: Qwen3-30B-A3B and Qwen3-8B); the dense part found no source
EIGHTEENTH_ROUND_IDS = ("M18A-",)
# the nineteenth (revision 30, blind with 4501731 and the a100-80gb-pcie entry): NVIDIA GPUs and a GB10 (M19A-: an
# independent engineer's vLLM runs on A100 80GB PCIe cards and llama.cpp on a DGX Spark, Lambda's vLLM 0.5.4 runs of
# ShareGPT prompts sent at once, gpt-oss-120b on DGX Spark) and others (M19B-: Intel's optimum-habana reference
# throughputs for Gaudi software 1.20 on Gaudi 2 and 3)
NINETEENTH_ROUND_IDS = ("M19A-", "M19B-")
# the twentieth (revision 31, blind with f6c4a1a, history item 77's release): batch-1 latency (M20A-: Red Hat AI's model
# cards, vLLM 0.7.2 single-stream end-to-end latencies; Microsoft's Phi-3-mini ONNX card) and MoE and served runs
# (M20B-: a Kubernetes recipe repository's vLLM 0.8.3 runs of Llama-3.3-70B and DeepSeek-V2.5 on A100 40GB VMs)
TWENTIETH_ROUND_IDS = ("M20A-", "M20B-")
# the twenty-first and twenty-second rounds were gathered and not added (docs/validation.md, "Independent check"); the
# twenty-third (revision 32, blind with 65c5bf8): prompt passes of Llama-3.1-70B at batch 1 on two to eight Gaudi 2
# cards (M23A-: the NAVER Cloud and Intel co-lab's gaudi-perf repository, transformers with optimum-habana under
# DeepSpeed tensor parallelism, timed on the device)
TWENTY_THIRD_ROUND_IDS = ("M23A-",)
# the twenty-fourth (revision 33, blind with 65c5bf8): committed benchmark result files of served runs (M24A-: a vLLM
# maintainer's personal repository of DeepSeek-R1 bursts, 50 requests at 10/s on 8 H200s with vLLM 0.8.4, SGLang
# 0.4.5.post1 and TensorRT-LLM; Anyscale's Ray Serve LLM runs of gpt-oss-120b on H100 replicas of TP 2 and 4)
TWENTY_FOURTH_ROUND_IDS = ("M24A-",)
# the twenty-fifth (revision 34, blind with 65c5bf8's model and the bands of d76d3ea): a consultancy's committed vLLM
# result files, Qwen3-32B in bursts of 100 requests at 100 clients on 8 B200s, H200s or H100s (M25A-), and one
# llama-bench printout on a Jetson AGX Orin (M25B-)
TWENTY_FIFTH_ROUND_IDS = ("M25A-", "M25B-")
# the twenty-sixth (revision 35, blind with 5bec94f's model): one request at a time on datacenter Blackwell from
# TensorRT-LLM and vLLM issue threads (M26A-), MLX's CUDA backend on a B200 (M26B-), SGLang's piecewise-graph pull
# request tables of Llama-3.1-8B FP8 at TP 8, prompt steps eager and from graphs (M26C-)
TWENTY_SIXTH_ROUND_IDS = ("M26A-", "M26B-", "M26C-")
# the twenty-seventh (revision 36, blind with 9ac8e2a's model): batch-1 latency of popular models, vLLM's
# benchmark_latency on an H100 and a Qwen3-30B-A3B GPU reference on an A100 (M27A-), MLX and llama.cpp pull-request
# printouts on Apple silicon (M27B-)
TWENTY_SEVENTH_ROUND_IDS = ("M27A-", "M27B-")
# the twenty-eighth (revision 37, blind with 8dbe098's model): devices no fit has seen, on the physics defaults:
# llama-bench printouts on the Ryzen AI Max+ 395 and an RTX 3090 (M28A-), vLLM served runs on Jetson AGX Thor and
# AGX Orin (M28B-)
TWENTY_EIGHTH_ROUND_IDS = ("M28A-", "M28B-")
# the twenty-ninth (revision 38, blind with 2b21575's model and bands): vLLM pull requests' benchmark_latency of
# Mixtral-8x7B and -8x22B on H100s and A100s (M29A-), llama-bench printouts on the Ryzen AI Max+ 395 (M29B-)
TWENTY_NINTH_ROUND_IDS = ("M29A-", "M29B-")
# the thirtieth (revision 39, blind with afd3753's model and bands): vLLM 0.28 serving gpt-oss-20b and -120b on eight
# RTX 5090s (M30A-), llama-bench on the Ryzen AI Max+ 395 under five ROCm and Vulkan builds (M30B-)
THIRTIETH_ROUND_IDS = ("M30A-", "M30B-")
# the thirty-first (revision 40, blind with f3ed699's model and afd3753's bands): SGLang's bench_one_batch_server of
# Qwen3-235B-A22B FP8 on eight H200s and eight B200s (M31A-), MLX and llama.cpp at one request on Apple silicon (M31B-)
THIRTY_FIRST_ROUND_IDS = ("M31A-", "M31B-")
# the thirty-second (revision 41, blind with 93b2ecc's model and afd3753's bands): a vLLM-on-TPU pull request's
# benchmark_serving run of Llama-3.1-8B on one TPU v6e (M32B-; part A found no source)
THIRTY_SECOND_ROUND_IDS = ("M32A-", "M32B-")
# the thirty-third round (seventy-second session, revision 42): Ollama at one request on an RTX 4090 and an A100
# (gparemsky's prompt-test runs) and llama-bench on a Jetson AGX Orin (M33B-; part A found no source)
THIRTY_THIRD_ROUND_IDS = ("M33A-", "M33B-")
# the thirty-fourth (seventy-third session, revision 43, blind with bdae114's model and bands): Ollama at one request on
# an RTX PRO 6000, RTX 5090s and RTX 4090s (M34A-), a vLLM concurrency sweep of gpt-oss-20b on an H100 PCIe and an H200
# (M34B-, a source the thirty-third round had left out for its approximate prompts and chunk-counted outputs)
THIRTY_FOURTH_ROUND_IDS = ("M34A-", "M34B-")
# the thirty-fifth (seventy-fourth session, revision 44, blind with 4c9d605's model and bands): SGLang's bench_one_batch
# of DeepSeek-V3.1 at TP 8 on eight AMD GPUs the thread does not name (MI300X assumed) and SGLang serving gpt-oss-20b at
# 32 clients on one H100 through Modal (M35A-); vLLM-Ascend serving Qwen3-32B W4A4 on one Atlas 800I A2 (M35B-, none
# expressible: the 910B lists no int4 matrix throughput)
THIRTY_FIFTH_ROUND_IDS = ("M35A-", "M35B-")
# the thirty-sixth (seventy-fourth session, revision 45, blind with 023d3a5's model and bands): vLLM on one H100 (four
# for Llama-3.1-70B), a vLLM blog's 20,000-token prompts at 8 clients and an open benchmark tool's short cached prompts
# at 1-64 clients (M36A-); llama.cpp's server on an RTX 3090, LM Studio's MLX and llama.cpp on an M4 Max, ExLlamaV2 on
# an RTX 4090 (M36B-)
THIRTY_SIXTH_ROUND_IDS = ("M36A-", "M36B-")
# the thirty-seventh (seventy-fourth session, revision 46, blind with 53bc728's model and bands): Qwen3-30B-A3B at batch
# 16 on an H100 PCIe with vLLM and TensorRT-LLM's two backends, DeepSeek-R1 with attention data parallelism on eight
# B200s (M37A-); prompts of 1,000 to 128,000 tokens on one A100 80GB with vLLM and transformers (M37B-)
THIRTY_SEVENTH_ROUND_IDS = ("M37A-", "M37B-")
# the thirty-eighth (seventy-fourth session, revision 47, blind with 53bc728's model and bands): vLLM serving
# Llama-3.3-70B FP8 on one MI300X, one cached request at a time (M38A-, none expressible); vLLM serving gpt-oss-20b on
# one DGX Spark, `vllm bench serve` and llama-benchy at 1-20 clients (M38B-)
THIRTY_EIGHTH_ROUND_IDS = ("M38A-", "M38B-")
# the thirty-ninth (seventy-fourth session, revision 48, blind with 4f4a373's model and bands): part A (server CPUs)
# found no source; TGI 1.0.3 serving Llama-2 at TP 8 on eight A100 40GB (2023) and TensorRT-LLM 0.15 against
# transformers at batch 1 on one A100 80GB (M39B-)
THIRTY_NINTH_ROUND_IDS = ("M39A-", "M39B-")
# the fortieth (seventy-fifth session, revision 49, blind with dd7c4f1's model and bands): vLLM serving Llama-2-7B in
# FP16 on one L4, `vllm bench serve` at 1-128 clients (M40A-); part B (TPUs, MI325X) found no source
FORTIETH_ROUND_IDS = ("M40A-", "M40B-")
# the forty-first (seventy-sixth session, revision 50, blind with a4a4a8a's model and bands): MoE models' prompt and
# decode rates at batch 1 on a DGX Spark, sixteen RTX 3090s and a Ryzen AI Max+ 395 (llama.cpp, ik_llama.cpp, vLLM,
# TensorRT-LLM; M41A-)
FORTY_FIRST_ROUND_IDS = ("M41A-",)
# the forty-second (seventy-sixth session, revision 51, blind with 7d6a6fb's model and bands): Hugging Face
# transformers' generate() at batch 1 through optimum-benchmark, Llama-3.1-8B and 70B on A100 and H100 (M42A-)
FORTY_SECOND_ROUND_IDS = ("M42A-",)
# the forty-third (seventy-sixth session, revision 52, blind with f4635e1's model and bands): vLLM 0.9.1 serving
# Qwen3-8B on one MI300X (AMD's ROCm blog), Habana's vLLM fork serving Llama-3.1-8B and 405B on Gaudi3 (M43A-)
FORTY_THIRD_ROUND_IDS = ("M43A-",)
# the forty-fourth (seventy-sixth session, revision 53, blind with fccec2d's model and bands): Millstone AI's vLLM
# report of gpt-oss-20b on one RTX PRO 6000 Blackwell, one request at 1K and 128K tokens of context (M44A-)
FORTY_FOURTH_ROUND_IDS = ("M44A-",)


def _round_errors(scored, ids: tuple[str, ...]) -> dict[str, float]:
    """The signed errors (%) of the scored rows of one round (ids starting with ``ids``), by id."""
    return {str(i): float(e) for i, e in zip(scored["id"], scored["error_pct"], strict=True) if str(i).startswith(ids)}


def _blind_round(table, scored, ids: tuple[str, ...], rows: int, decode_rows: int, prefill_rows: int,
                 expressible: int | None = None):
    """(mask over ``scored``, summary) of one round of independent rows (ids starting with ``ids``): ``rows`` of it
    in the file, ``expressible`` of them expressible (all where None), ``decode_rows`` and ``prefill_rows`` of those
    in each phase."""
    mask = np.array([str(i).startswith(ids) for i in scored["id"]])
    assert sum(str(i).startswith(ids) for i in table["id"]) == rows
    assert mask.sum() == (rows if expressible is None else expressible)
    summary = v.summarize(scored[mask])
    counts = tuple(summary[k]["n"] if k in summary else 0 for k in ("phase:decode", "phase:prefill"))
    assert counts == (decode_rows, prefill_rows), counts
    return mask, summary


def test_independent_rows_gathered_after_the_fit():
    """Rows the calibration never saw, gathered after it by people who did not see their predictions
    (docs/validation.md, "Independent check"): the figures the docs quote, so that a change that moves them is
    seen. Measured, first round (eighth session): decode 55.6% (51 rows), prefill 81.6% (41 rows; 92.7% before
    closed loops of identical requests were modelled as waves, docs/serving.md section 2b), mostly too fast (young
    ROCm and Ascend stacks, tiny-active MoE decode); ExLlama's batch-1 decode rates within 7%. Second round
    (eleventh session, predicted once after gathering): decode 21.1% (64 rows), prefill 76.1% (33 rows); with the
    engine settings the rows state and a burst's queue read from them (docs/validation.md history item 27),
    prefill 68.8%. Third round (eleventh session, blind): decode 79.9% (76), prefill 60.3% (64); llama.cpp's
    pull-request prompt rates all within 25%. All rounds: decode 55.9% (191), prefill 77.2% (138); after history
    item 28 (throughputs from the time-average step): third round decode 78.8%, all rounds 55.8%. Fourth round
    (twelfth session, MoE at batch 1-4, blind with history item 29's operators but before its kernel floor): decode
    40.2% (58), prefill 64.5% (58). With the floor (asserted below): rounds one to four decode 50.4%, 21.4%, 75.9%,
    25.9%, prefill 81.4%, 68.8%, 54.8%, 63.7%; all four decode 38.7% (249), prefill 70.4% (196). Fifth round
    (twelfth session, blind with this release): decode 43.9% (148), prefill 68.0% (30); Rapid-MLX on an M3 Ultra
    within 25% on all 18 rows. All five: decode 40.7% (397), prefill 70.4% (226). Thirteenth session, after these
    rows had been seen (docs/validation.md history item 30): AMD ATOM's own engine profile (prefill batches of whole
    prompts apart from decode batches) and SGLang's eager prompt steps (65 us of host time per kernel, from one
    published SGLang measurement): rounds one to five decode 50.4%, 21.4%, 71.8%, 27.1%, 27.5%, prefill 81.4%,
    68.8%, 50.0%, 42.9%, 21.1%; all five decode 34.9%, prefill 52.6%. Sixth round (thirteenth session, blind with
    that change): decode 18.8% (85), prefill 38.9% (37); the 96 rows of sources never looked at decode 10.2%, prefill
    35.2%. All six: decode 34.3% (482), prefill 49.6% (263). Fourteenth session, after these rows had been seen
    (history item 31): decode steps with no captured graph are eager too (graphs off: vLLM --enforce-eager, SGLang
    --disable-cuda-graph; batches above the largest captured one), and ATOM's prompt steps: rounds one to six decode
    50.4%, 21.4%, 60.0%, 27.0%, 27.5%, 18.8%, prefill 81.4%, 68.8%, 50.0%, 42.2%, 21.1%, 38.9%; all six decode 33.9%,
    prefill 47.5%. Seventh round (fourteenth session, blind with item 31): 48 rows, 31 expressible, all decode-class:
    14.3%; all seven decode 31.5% (513), prefill 47.5% (263). Eighth round (fifteenth session, blind with the same
    release): 116 rows, 104 expressible: decode 19.2% (71), prefill 15.7% (33), 61.5% within 25%, 82.7% in their
    bands; all eight decode 30.0% (584), prefill 43.4% (296). Then finite runs (docs/serving.md section 2c, after the
    eighth round was predicted): eleven rate runs past saturation become expressible: the third round's prefill
    50.0% (64) -> 54.8% (72: its RTX 4090 runs at 16-32 requests/s, whose saturation the model puts below the
    rate), round eight decode 19.2% (74), prefill 16.6% (36); all eight decode 29.9% (587), prefill 44.2% (307).
    Ninth round (sixteenth session, blind): 114 rows, all expressible: decode 20.6% (55), prefill 131.5% (59:
    llama.cpp's HIP prompt kernels on 8 MI300X run 2-23x below the prediction; without that group decode 14.6%,
    prefill 23.3%), 38.6% within 25%, 65.8% in their bands; all nine decode 29.3% (642), prefill 47.6% (366).
    Then multi-step scheduling (history item 33, after the round was seen): Azure's MI300X throughputs, which state
    10 scheduler steps, go from 29-62% slow to 25-85% fast; round nine decode 30.0%, all nine decode 29.9%, prefill
    47.6%. Then the MI300X's GEMM fraction from AMD's own max-achievable-FLOPs measurement (history item 34, held-out
    decode 17.1% -> 15.5%): rounds one to nine decode 50.0%, 21.4%, 60.0%, 26.8%, 27.0%, 18.8%, 16.0%, 19.2%, 23.3%,
    prefill 81.4%, 68.8%, 54.8%, 40.3%, 20.6%, 38.9%, -, 16.6%, 114.9%; all nine decode 29.0%, prefill 45.0%. Then
    vLLM's V0 scheduler for the rows that ran V0 (history item 35, seen rows): round nine decode 16.5%, first round
    prefill 78.5%, all nine decode 28.2%, prefill 45.0%. Tenth round (nineteenth session, blind): 160 rows, all
    expressible: decode 7.9% (93), prefill 13.7% (67), 58.8% within 25%, 80.6% in their bands, per-source medians 54.4%
    and 42.6% (France Travail's 110 vLLM rows on A100s 6.2%, all in their bands; ik_llama.cpp on a Xeon 6980P, DJL and
    vLLM on Inferentia2 and JetStream on TPUs 32-161% off). Then France Travail's 4- and 10-client runs read as waves
    of identical requests (history item 37, seen rows): their TTFTs from 65-84% fast to -3..+16% (the chunked-prefill
    run -20/-31%); round ten decode 8.9%, prefill 6.5%; all ten decode 26.8% (735), prefill 40.4% (433). Then the GPU
    kernel floor at 4 us instead of 2 and the refit (history item 38, seen rows): rounds one to ten decode 49.8%,
    21.1%, 59.1%, 18.5%, 21.3%, 18.8%, 7.4%, 17.5%, 16.7%, 8.4%; all ten decode 22.7%, prefill 38.6%. Eleventh round
    (twenty-first session, blind with that release): 30 rows, all expressible: decode 33.9% (14), prefill 26.8% (16),
    43.3% within 25%, 80% in their bands; all eleven decode 22.8% (749), prefill 38.4% (449). Then the memory share
    a row's system text states (history item 39, twenty-second session, seen rows): all eleven decode 22.7%, prefill
    38.4%. Then a finite run's running batch (item 40, seen rows): decode 22.7%, prefill 38.1%. Twenty-third session:
    the qwen2.5-32b entry makes dennislee22's eleven Qwen2.5-32B rows expressible (decode 22.2%, 760 rows) and vLLM V0's
    eager prompt steps (history item 41, seen rows) give decode 22.1%, prefill 38.1%. Twelfth round (blind with that
    release): 62 rows, all expressible: decode 12.1% (23), prefill 44.0% (39: 4-bit engines' TTFTs on an RTX 4090 and
    a Jetson Orin from -6% to +183%), 50.0% within 25%, 75.8% in their bands; all twelve decode 21.2% (783), prefill
    38.4% (488). Twenty-fourth session: a row's stated link (history item 42, seen rows): dennislee22's 23 rows without
    GPU peer-to-peer access run their collectives through host memory (-40.9% -> -29.8%), its 22 rows across nodes
    over an undescribed network are not expressible; all twelve decode 19.9% (761), prefill 38.4% (488). Thirteenth
    round (blind with that release): 71 rows, all expressible: decode 30.2% (37: NIM's 70B and Mixtral throughputs
    9-114% high, Ollama's gpt-oss-20b on an M3 Ultra about 3x fast), prefill 63.4% (34), 33.8% within 25%, 71.8% in
    their bands; all thirteen decode 20.1% (798), prefill 38.6% (522). Then a wave's re-sent requests miss the next
    step's boundary (history item 43, seen rows): round thirteen prefill 56.1%, all thirteen prefill 39.0%. Then
    TensorRT-LLM's PyTorch backend (history item 46, seen rows): all thirteen prefill 38.6%. Then prompts the server
    had already cached (history item 47, seen rows): second round decode 20.0%, prefill 23.2%; all thirteen decode
    20.0%, prefill 37.9%. With Hopper's balanced tiles (history item 48): all thirteen decode 20.0%, prefill 37.6%;
    round eight decode 13.9%, prefill 16.4%. Fourteenth round (thirtieth session, blind with that release): 53 rows,
    all expressible: decode 69.4% (43: Hugging Face transformers' eager generate() predicted with the vllm profile),
    prefill 10.4% (10), 24.5% within 25%, 30% in their bands; then transformers' own profile (history item 49, seen
    rows): decode 28.5%, prefill 23.1%, 50.9% within 25%; all fourteen decode 20.0% (841), prefill 36.8% (532). Then
    the engines that dequantize a 4-bit matrix into a 16-bit copy before their GEMM, and TinyChat's FP16-accumulating
    W4A16 GEMM (history item 50, thirty-first session, seen rows): round twelve prefill 25.9%, round fourteen decode
    16.5%; all fourteen decode 20.0%, prefill 34.7% (per-source medians 37.6%), 50.8% within 25%. Fifteenth round
    (thirty-third session, blind with 941fe30): 28 rows, all expressible: decode 25.4% (27; calm's one-kernel-per-token
    decode rates on an RTX 4090, which fell back to vLLM's profile, 16-47% low), prefill 67.6% (1), 39.3% within 25%,
    35.7% in their bands; all fifteen decode 20.3% (868), prefill 34.9% (533; per-source medians 38.3%), 50.6%.
    Then a closed-loop run's first wave (history item 52, seen rows: ATOM's): prefill 34.4%, 50.7% within 25%.
    Sixteenth round (thirty-fifth session, blind with f8c5567): 37 rows, all expressible, all whole-request or decode
    throughputs: decode 16.9% (37; per-source medians 15.4%), 62.2% within 25%, 81.1% in their bands; all sixteen
    decode 20.1% (905; per-source medians 22.0%), prefill 34.4% (533), 51.0% within 25%. Then the figures by model
    architecture (history item 53, no prediction changed): dense models' rows decode 16.6% (594), prefill 20.1% (332);
    those of models with mixture-of-experts layers decode 30.4% (311), prefill 53.9% (201, median signed -38.5%).
    Seventeenth round (thirty-sixth session, blind with f62e0d8, after item 53): 13 rows, all expressible: decode
    15.3% (9), prefill 69.5% (4: Qwen3-235B-A22B's TTFTs on four RTX PRO 6000 cards, 47-76% fast, as item 53 found of
    MoE prompts), 53.8% within 25%, 69.2% in their bands; all seventeen decode 20.0% (914; per-source medians 20.5%),
    prefill 34.9% (537; 36.9%), 51.1% within 25%; by architecture dense decode 16.5% (595), prefill 20.1% (332), MoE
    decode 28.5% (319), prefill 54.6% (205, signed -39.1%). Eighteenth round (thirty-seventh session, blind with
    0126bf3, the model of f8c5567): 4 rows, all expressible (llama.cpp on one RTX 5090, a 512-token prompt and 128
    generated tokens): decode 29.6% (2), prefill 34.3% (2), 2 of 4 within 25%, 3 of 4 in their bands; the dense
    Qwen3-8B's within 17%, the MoE Qwen3-30B-A3B's decode rate 42% low and prompt rate 66% high; all eighteen decode
    20.0% (916; per-source medians 21.2%), prefill 34.9% (539; 35.5%), 51.1% within 25%; dense decode 16.6% (596),
    prefill 20.1% (333), MoE decode 29.0% (320), prefill 54.6% (206, signed -38.8%). Nineteenth round (fifty-third
    session, blind with 4501731 and the a100-80gb-pcie entry, which was added from NVIDIA's datasheet before its
    rows were predicted): 68 rows, all expressible: decode 22.2% (66; per-source medians 22.4%), prefill 16.7% (2),
    64.7% within 25%, 76.5% in their bands; all nineteen decode 19.5% (982; per-source medians 22.0%), prefill 32.4%
    (541; 34.0%), 52.9% within 25%; dense decode 17.9% (660), prefill 19.6% (335), MoE decode 24.4% (322), prefill
    49.0% (206, signed -37.7%). Twentieth round (fifty-third session, blind with f6c4a1a, history item 77's
    release): 71 rows, all expressible: decode 18.8% (61; per-source medians 28.3%), prefill 57.0% (10), 62.0% within
    25%, 80.3% in their bands; all twenty decode 19.5% (1,043; 22.0%), prefill 32.5% (551; 34.3%), 53.3% within 25%;
    dense decode 17.3% (713), prefill 19.7% (341), MoE decode 26.0% (330), prefill 49.8% (210, signed -38.1%). With a
    finite run's span (fifty-fourth session, seen rows: the output throughputs of 15 finite rate runs): all twenty
    decode 19.3% (22.0%), prefill 32.5% (34.3%), 53.6% within 25%; dense decode 17.2%, MoE decode 24.7%. With the
    runs' published request lengths (fifty-fifth session, seen rows: the output throughputs of 18 runs whose files list
    every request's lengths): all twenty decode 19.2% (21.3%), prefill 32.5% (34.3%), 54.1% within 25%; dense decode
    16.6%, MoE decode 24.7%. Twenty-third round (fifty-eighth session, blind with 65c5bf8; the twenty-first and
    twenty-second were gathered and not added): 18 rows, all expressible, all prompt passes of Llama-3.1-70B on Gaudi 2
    (TP 2-8, 1,024-32,768 tokens): prefill 13.4%, 88.9% within 25%, all 18 inside their bands; all twenty-one added
    rounds decode 19.2% (1,043; 21.3%), prefill 30.0% (569; 34.0%), 54.7% within 25%; dense prefill 19.0% (359).
    Twenty-fourth round (the same session and model): 120 rows of committed result files of served runs, all
    expressible: decode 39.2% (80; per-source medians 40.2%), prefill 90.6% (40 TTFTs, too fast), 26.7% within 25%,
    64.2% in their bands; all twenty-two added rounds decode 19.5% (1,123; 22.0%), prefill 32.8% (609; 34.8%), 52.8%
    within 25%; MoE decode 28.0% (410), prefill 52.5% (250, signed -42.4%). Twenty-fifth round (the same session and
    model, the bands of d76d3ea): 92 rows, all expressible (Qwen3-32B bursts of 100 prompts on 8 GPUs with vLLM; a
    llama-bench printout on a Jetson AGX Orin): decode 49.0% (61), prefill 42.2% (31), 25.0% within 25%, 23.9% in
    their bands; all twenty-three added rounds decode 20.4% (1,184; 22.0%), prefill 34.1% (640; 35.4%), 51.4% within
    25%; dense decode 19.0% (774), prefill 20.0% (390). Then a run of one wave (history item 81, fifty-ninth session,
    seen rows: the twenty-fifth round's runs of as many requests as clients, bursts within the running cap): decode
    20.0% (22.3%), prefill 34.1%, 51.6% within 25%; and a finite run at a request rate as a slow wave (history item
    82, seen rows: the twenty-fourth round's DeepSeek-R1 runs, IOG's and the twentieth round's runs of 200): decode
    19.8% (22.3%), prefill 34.1% (35.4%), 52.2% within 25%; dense decode 18.2%, prefill 20.4%; MoE decode 26.0%. Then
    waves on separate prefill steps (history item 83, sixtieth session, seen rows: SGLang's finite runs at a rate,
    vLLM V0's bursts and offline runs): decode 20.05% (22.6%), prefill 34.1% (35.4%), 51.5% within 25%; dense decode
    19.0%, prefill 20.4%; MoE decode 24.6%. Then the prompts' chain in a finite run past saturation (history item 84,
    sixty-first session, seen rows): decode 19.97% (22.6%), prefill 34.1% (35.4%), 51.6% within 25%; dense decode
    18.9%, prefill 20.0%; MoE prefill 51.8%. Then TensorRT-LLM's whole sequences reserved in the KV cache (history
    item 86, seen rows): decode 19.93%, 51.7% within 25%; dense decode 18.8%."""
    assert hashlib.sha256(INDEPENDENT.read_bytes()).hexdigest() == INDEPENDENT_SHA256
    table = v.predict_rows(v.load_rows(INDEPENDENT))
    s = v.summarize(table)
    decode, prefill = s["phase:decode"], s["phase:prefill"]
    assert decode["n"] == 1749 and prefill["n"] == 955
    # all twenty rounds: decode 19.2% (19.3% before the runs' published request lengths; 19.5% before a finite run's
    # span was counted; 19.5% over nineteen; all
    # nineteen rounds: decode 19.5%, 19.5% over eighteen since history item 75; all eighteen rounds: decode 20.0%
    # before it; 20.0% over seventeen, 20.1% over sixteen, 20.3% over fifteen, 20.0% over fourteen and over thirteen;
    # 21.2% before history item 42, 26.8% before 38; all twenty-three: 19.97% with history item 84, 20.05% with 83,
    # 19.77% before it)
    assert 17.0 <= decode["median_abs_error_pct"] <= 28.0
    # 32.5% (nineteen rounds 32.4%; eighteen rounds 32.5% since history item 75, 34.3% before it and 34.9% before item
    # 61; seventeen rounds 34.9%, sixteen 34.4%; 34.9% before item 52; fourteen rounds 34.7%; 36.8% before item 50;
    # thirteen rounds 37.6%; 37.9% before item 48)
    # 34.1% with the twenty-fifth round (its Qwen3-32B TTFTs 41% off, too slow), 32.8% with the twenty-fourth (its 40
    # TTFTs 90.6% off, too fast), 30.0% with the twenty-third alone (its 18
    # prompt rows within a median 13.4%)
    assert 27.0 <= prefill["median_abs_error_pct"] <= 48.0
    # by architecture (history item 53): the dense models' rows meet issue 11's goals on the medians (decode 16.6% of
    # 713 rows, prefill 19.7% of 341 with the twentieth round; 17.9% of 660 and 19.6% of 335 with the nineteenth; 596
    # and 333 rows, 16.8% and 19.8%, before it; 16.5% of 595 before the eighteenth round, 16.6% of 594 before the
    # seventeenth); those of models with mixture-of-experts layers do not (decode 29.0% of 320, prefill 54.6% of 206,
    # median signed -38.8%: predicted too fast; 28.5% of 319 and 54.6% of 205 before the eighteenth round, 30.4% of 311
    # and 53.9% of 201 before the seventeenth)
    dense_decode, dense_prefill = s["architecture:dense decode"], s["architecture:dense prefill"]
    moe_decode, moe_prefill = s["architecture:moe decode"], s["architecture:moe prefill"]
    # (dense prefill 19.0% of 359 rows with the twenty-third round)
    # (MoE decode 28.0% of 410 rows and prefill 52.5% of 250, signed -42.4%, with the twenty-fourth round)
    # (dense decode 19.0% of 774 rows and prefill 20.0% of 390 with the twenty-fifth round; 18.2% and 20.4% with
    # history items 81 and 82; 19.0% and 20.4%, MoE decode 24.6%, with item 83)
    # (dense decode 18.8% of 782 rows and prefill 21.0% of 398, MoE decode 24.6% of 422 and prefill 52.5% of 258,
    # signed -42.9%, with the twenty-sixth round; dense decode 18.8% of 805 and prefill 21.3% of 412, MoE decode 24.1%
    # of 435 and prefill 51.6% of 275, signed -39.1%, with the twenty-seventh; dense decode 19.2% of 860 and prefill
    # 24.0% of 438, MoE decode 23.3% of 454 and prefill 53.2% of 294, signed -37.6%, with the twenty-eighth; dense
    # decode 19.0% of 871 and prefill 24.8% of 449, MoE decode 22.1% of 504 and prefill 57.3% of 316, signed -30.3%,
    # with the twenty-ninth; dense decode 18.9% of 876 and prefill 25.9% of 454, MoE decode 22.8% of 538 and prefill
    # 58.3% of 332, signed -27.4%, with the thirtieth; dense decode 19.0% of 879, MoE decode 22.3% of 565 and prefill
    # 60.5% of 344, signed -23.0%, with the thirty-first; dense decode 18.9% of 883 and prefill 25.4% of 456 with the
    # thirty-second; dense decode 19.1% of 915 and prefill 27.0% of 488 with the thirty-third, 18.9% and 23.3% with
    # history item 99, MoE decode 22.2%, prefill 60.4%, signed -23.4%; 18.3% and 23.3%, MoE decode 22.8%, prefill
    # 60.9%, with history item 100; with the thirty-fourth round dense decode 18.2% of 922, MoE decode 22.9% of 580 and
    # prefill 61.2% of 349, signed -24.1%; with the thirty-fifth MoE decode 23.5% of 596 and prefill 60.3% of 357,
    # signed -24.1%; with the thirty-sixth dense decode 17.9% of 971 and prefill 23.8% of 503, MoE decode 23.7% of 601
    # and prefill 60.4% of 358; with the thirty-seventh dense decode 17.9% of 976 and prefill 23.3% of 514, MoE decode
    # 24.1% of 610 and prefill 61.4% of 364, signed -23.0%, as a time -45.8%)
    # (MoE decode 24.4% of 638 and prefill 60.3% of 377, signed -20.1%, as a time -45.1%, with the thirty-eighth)
    # (dense decode 18.5% of 1,014 and prefill 23.3% of 516 with the thirty-ninth; 18.1% of 1,056 and 24.4% of 537
    # with the fortieth; with the forty-first dense decode 18.1% of 1,057 and prefill 24.4% of 538, MoE decode 24.7% of
    # 670 and prefill 60.6% of 407, signed -14.7%, as a time -45.0%; with the forty-second dense decode 18.1% of 1,069
    # and prefill 24.4% of 544; with the forty-third 18.1% of 1,077 and 24.4% of 546; with the forty-fourth MoE decode
    # 24.7% of 672 and prefill 60.6% of 409)
    assert (dense_decode["n"], dense_prefill["n"], moe_decode["n"], moe_prefill["n"]) == (1077, 546, 672, 409)
    assert 12.0 <= dense_decode["median_abs_error_pct"] <= 20.0
    # 25.9% with the thirtieth round (its Llama-2-7B prompt rates on the Ryzen AI Max+ 395 39-60% high, one 520%):
    # past the issue's 25% on dense models too (24.8% with the twenty-ninth)
    assert 15.0 <= dense_prefill["median_abs_error_pct"] <= 30.0
    assert 20.0 <= moe_decode["median_abs_error_pct"] <= 40.0  # 23.3% (24.1% before the twenty-eighth round)
    assert 45.0 <= moe_prefill["median_abs_error_pct"] <= 65.0
    # -23.0% with the thirty-first round: its twelve prompt rates, 72-569% high, count as positive errors (a rate
    # predicted too fast is high, a time too fast is short: the signed median mixes the two; -27.4% before it); as a
    # time (history item 98) -48.4%, and the whole prefill phase -21.7% where its signed median is -1.9%; -14.7% with
    # the forty-first round, whose 30 MoE prompt rates are mostly predicted high (as a time -45.0%, unchanged)
    assert moe_prefill["median_signed_error_pct"] <= -10.0
    assert moe_prefill["median_time_error_pct"] <= -40.0 and prefill["median_time_error_pct"] <= -15.0
    # the scatter of repeated measurements (docs/validation.md, "Replicates"): 67 configurations measured more than
    # once (163 rows, 15 sources, one configuration across two sources; 65, 159 and 14 before the sixteenth round)
    # sit a median 12.0% (decode) and 10.1% (prefill) from their own geometric mean, where genmodel misses those rows
    # by 15.4% (15.8%) and 58.2%: decode about as
    # well as the scatter allows, prefill several times worse (the spread depends on the rows and the inputs genmodel
    # reads from them, not on the fit). Before history item 50 TinyChat's sweep added five configurations (its
    # TinyChat, MLC and ExLlamaV2 prompts then ran on one profile): 70, 174 rows, 15 sources, 16.9% and 89.8%
    # With the twenty-fourth round (its DeepSeek-R1 runs repeated on a DGX H200 and a Nebius H200 node): 103
    # configurations, 235 rows, 16 sources, spreads 10.4% (decode) and 8.9% (prefill), genmodel 20.7% and 86.7%
    # With the twenty-sixth round (MLX's B200 rows before and after one of its pull requests, vLLM's Llama-4-Scout TPOT
    # with two MoE backends): 106 configurations, 241 rows, 18 sources, spreads 10.4% and 8.2%, genmodel 19.7% and
    # 68.3%. With the twenty-seventh (its bf16 and RTN-quantized builds of one vLLM benchmark, MLX and llama.cpp
    # builds before and after their pull requests): 122 configurations, 281 rows, 20 sources, spreads 11.5% and 9.15%,
    # genmodel 20.3% and 63.1%. With the twenty-eighth (llama-bench rows repeated across builds and Vulkan drivers on
    # the Ryzen AI Max+ 395, the two ubatch sizes of one RTX 3090 printout, vLLM's Qwen3-8B 4-bit checkpoints on the
    # Thor): 143 configurations, 337 rows, 22 sources, spreads 9.98% and 8.46%, genmodel 20.6% and 61.7%. With the
    # twenty-ninth (llama-bench's tg128 on the Ryzen AI Max+ 395 repeated at each -b of a batch-size sweep, which a
    # decode step does not read, within 0.5% of each other; vLLM's Mixtral runs before and after a MoE kernel or
    # config): 171 configurations, 407 rows, 24 sources, spreads 8.14% and 10.76%, genmodel 19.6% and 71.8%. With the
    # thirtieth (llama-bench on the Ryzen AI Max+ 395 under five ROCm and Vulkan builds, whose Llama-2-7B and
    # gpt-oss-120b rows repeat configurations of the twenty-eighth and twenty-ninth rounds' sources): 173
    # configurations, 437 rows, 25 sources, five of them across sources, spreads 7.57% and 9.91%, genmodel 16.7% and
    # 70.9%. With the thirty-third (Ollama's ten requests per table, the last five of each cut to the same 4,096-token
    # prompt; the Orin's llama-bench with flash attention off and on): 175 configurations, 445 rows, 26 sources,
    # spreads 7.25% and 9.43%, genmodel 17.7% and 69.7%. With the thirty-sixth (an open benchmark tool's Llama-3.1-8B
    # at 4 clients in its sweep and its marathon, Qwen2.5-7B and its Coder variant of the same shapes; LM Studio's MLX
    # rates of Qwen2.5-32B and QwQ-32B): 179 configurations, 453 rows, 28 sources, spreads 7.24% and 9.12%, genmodel
    # 16.1% and 68.7%. With the fortieth (three runs of each concurrency of one `vllm bench serve` sweep on an L4,
    # within a fraction of a percent of each other where the TTFTs at 64 and 128 clients are not): 200
    # configurations, 516 rows, 29 sources, spreads 5.58% and 7.68%, genmodel 14.8% and 60.9%. With the forty-first
    # (gpt-oss-20b's and gpt-oss-120b's llama-bench prompt rates at 2,048 tokens on a DGX Spark, each from two
    # sources, 3,670 and 4,464, 1,725 and 2,450 tokens/s; gpt-oss-120b and Llama-4-Scout on the Ryzen AI Max+ 395
    # joining the twenty-eighth and thirtieth rounds' sets; the two ubatch sizes of one DeepSeek-R1 printout, which
    # genmodel reads as one configuration, the larger up to 38% faster): 209 configurations, 536 rows, 34 sources,
    # nine of them across sources, spreads 5.55% and 8.78%, genmodel 14.7% and 66.8%
    spread = v.replicate_spread(table)
    assert (spread["all"]["sets"], spread["all"]["rows"], spread["all"]["sources"]) == (209, 536, 34)
    assert spread["all"]["cross_source_sets"] == 9
    assert spread["phase:decode"]["spread_pct"] == pytest.approx(5.55, abs=0.05)
    assert spread["phase:prefill"]["spread_pct"] == pytest.approx(8.78, abs=0.05)
    # decode: 14.8% against a spread of 5.58% with the fortieth round (2.65x: its tight repeats lower the spread;
    # 16.1% against 7.24%, 2.22x, with the thirty-sixth; 19.6% against 8.14%, 2.41x, with the twenty-ninth; 20.6%
    # against 9.98%, 2.06x, with the twenty-eighth, 20.3% against 11.5% before it)
    assert spread["phase:decode"]["model_error_pct"] <= 3.0 * spread["phase:decode"]["spread_pct"]
    assert spread["phase:prefill"]["model_error_pct"] >= 3 * spread["phase:prefill"]["spread_pct"]  # 86.7% (58.2%)
    scored = v.scored(table)
    # the forty-fourth round (seventy-sixth session, blind with fccec2d's model and bands): 4 rows of one group, all
    # expressible: decode 29.9% (2), prefill 41.0% (2), 50% within 25%, 75% inside their bands. gpt-oss-20b served by
    # vLLM on one RTX PRO 6000 Blackwell, one request of 1,024 output tokens: at 1K of context the TTFT +19% (slow) and
    # the generation rate +8.5%; at 128K the TTFT 63% fast and the generation rate 51% high
    forty_fourth, round44 = _blind_round(table, scored, FORTY_FOURTH_ROUND_IDS, 4, 2, 2)
    assert 25.0 <= round44["phase:decode"]["median_abs_error_pct"] <= 35.0  # 29.9%
    assert 35.0 <= round44["phase:prefill"]["median_abs_error_pct"] <= 47.0  # 41.0%
    rows44 = _round_errors(scored, FORTY_FOURTH_ROUND_IDS)
    assert 17.0 <= rows44["M44A-01"] <= 21.0 and 7.0 <= rows44["M44A-03"] <= 10.0
    assert -65.0 <= rows44["M44A-02"] <= -61.0 and 49.0 <= rows44["M44A-04"] <= 53.0
    scored = scored[~forty_fourth]  # the earlier rounds below
    # the forty-third round (seventy-sixth session, blind with f4635e1's model and bands): 10 rows of two groups (four
    # P90 rows left out before the prediction), all expressible: decode 8.5% (8), prefill 91.3% (2), 80% within 25%,
    # 80% inside their bands
    forty_third, round43 = _blind_round(table, scored, FORTY_THIRD_ROUND_IDS, 10, 8, 2)
    assert 5.0 <= round43["phase:decode"]["median_abs_error_pct"] <= 12.0  # 8.5%
    rows43 = _round_errors(scored, FORTY_THIRD_ROUND_IDS)
    # Qwen3-8B's 128 prompts at once on one MI300X: total throughputs -14% and -9%; Gaudi3 at 64 clients of about
    # 1,868 + 2,048 tokens: TPOTs -8% to +1%, throughputs +4% (8B) and +21% (405B on eight cards), the mean TTFTs 91%
    # fast (1.8 s and 15.5 s measured, 0.16 s and 1.3 s predicted; not explained: the fork's V0 scheduler takes
    # prompts in prefill batches of at most 16 sequences, --max-num-prefill-seqs, which the profile does not read)
    assert all(-15.0 <= rows43[f"M43A-{k:02d}"] <= -8.0 for k in (1, 2))
    assert all(abs(rows43[f"M43A-{k:02d}"]) <= 9.0 for k in (5, 7, 8, 11))
    assert all(20.0 <= rows43[f"M43A-{k:02d}"] <= 21.5 for k in (13, 14))
    assert all(-92.0 <= rows43[f"M43A-{k:02d}"] <= -90.5 for k in (3, 9))
    scored = scored[~forty_third]  # the earlier rounds below
    # the forty-second round (seventy-sixth session, blind with 7d6a6fb's model and bands): 18 rows of one group, all
    # expressible: decode 16.7% (12), prefill 23.8% (6), 66.7% within 25%, all inside their bands
    forty_second, round42 = _blind_round(table, scored, FORTY_SECOND_ROUND_IDS, 18, 12, 6)
    assert 12.0 <= round42["phase:decode"]["median_abs_error_pct"] <= 21.0  # 16.7%
    assert 18.0 <= round42["phase:prefill"]["median_abs_error_pct"] <= 29.0  # 23.8%
    rows42 = _round_errors(scored, FORTY_SECOND_ROUND_IDS)
    # transformers' eager generate() at batch 1 (64 + 64 tokens): Llama-3.1-8B in BF16 on an A100 and Llama-3.1-70B in
    # BF16 over two A100s (pipeline) within -13% to +12%; FBGEMM's FP8 on an H100 (8B and 70B) TTFTs and TPOTs 22-24%
    # fast; the AWQ checkpoint's TPOT within 1%, its TTFT 29% fast; torchao's int4 TTFT 62% and TPOT 43% fast
    assert all(abs(rows42[f"M42A-{k:02d}"]) <= 13.5 for k in (1, 2, 3, 10, 11, 12))
    assert all(-25.0 <= rows42[f"M42A-{k:02d}"] <= -21.0 for k in (4, 5, 7, 8))
    assert abs(rows42["M42A-14"]) <= 2.0 and -30.0 <= rows42["M42A-13"] <= -28.0
    assert -63.0 <= rows42["M42A-16"] <= -60.0 and -45.0 <= rows42["M42A-17"] <= -42.0
    scored = scored[~forty_second]  # the earlier rounds below
    # the forty-first round (seventy-sixth session, blind with a4a4a8a's model and bands): 64 rows of eight groups,
    # all expressible: decode 26.0% (33), prefill 64.9% (31), 34.4% within 25%, 67.2% inside their bands
    forty_first, round41 = _blind_round(table, scored, FORTY_FIRST_ROUND_IDS, 64, 33, 31)
    assert 20.0 <= round41["phase:decode"]["median_abs_error_pct"] <= 32.0  # 26.0%
    assert 55.0 <= round41["phase:prefill"]["median_abs_error_pct"] <= 75.0  # 64.9%
    rows41 = _round_errors(scored, FORTY_FIRST_ROUND_IDS)
    # gpt-oss-20b's llama-bench prompt rates on a DGX Spark at 512 to 32,678 tokens within -3% to +4%; its generation
    # rates there 20-32% low (the model slower), gpt-oss-120b's 14-19% low; vLLM's eager gpt-oss-120b on the same
    # device: TTFTs 27-65% slow, generation 43-45% high; DeepSeek-R1 with ik_llama.cpp on sixteen RTX 3090s split by
    # layer: prompt rates 84-679% high, more the longer the prompt (measured flat at 183-304 tokens/s from 512 to 8,192
    # tokens: no pipelining of a prompt's passes over the GPUs, which the model gives), generation 23-27% low
    assert all(-3.0 <= rows41[f"M41A-{k:02d}"] <= 4.0 for k in range(22, 29))
    assert all(-32.0 <= rows41[f"M41A-{k:02d}"] <= -19.0 for k in (*range(17, 22), *range(29, 34)))
    assert all(27.0 <= rows41[f"M41A-{k:02d}"] <= 65.0 for k in range(7, 11))
    assert all(43.0 <= rows41[f"M41A-{k:02d}"] <= 46.0 for k in range(11, 16))
    assert all(83.0 <= rows41[f"M41A-{k:02d}"] <= 680.0 for k in (*range(40, 45), *range(50, 55)))
    assert rows41["M41A-40"] < rows41["M41A-41"] < rows41["M41A-42"] < rows41["M41A-43"] < rows41["M41A-44"]
    assert all(-28.0 <= rows41[f"M41A-{k:02d}"] <= -22.0 for k in range(45, 50))
    scored = scored[~forty_first]  # the earlier rounds below
    # the fortieth round (seventy-fifth session, blind with dd7c4f1's model and bands): 72 rows of one group, 63
    # expressible (one client re-sending a cached prompt is not): decode 6.3% (42), prefill 38.9% (21), 60.3% within
    # 25%, 95.2% inside their bands
    fortieth, round40 = _blind_round(table, scored, FORTIETH_ROUND_IDS, 72, 42, 21, expressible=63)
    assert 3.0 <= round40["phase:decode"]["median_abs_error_pct"] <= 10.0  # 6.3%
    assert 30.0 <= round40["phase:prefill"]["median_abs_error_pct"] <= 45.0  # 38.9%
    rows40 = _round_errors(scored, FORTIETH_ROUND_IDS)
    # vLLM serving Llama-2-7B on one L4, one 135-token prompt (cached) and 256 output tokens, three runs per
    # concurrency: the TPOTs at 2-32 clients +1% to +17%, at 64 and 128 +35% to +41% (slow); the output throughputs
    # -20% to +5%; the TTFTs at 2-64 clients 20-44% fast, at 128 (all 100 requests at once) 6.5-8.1 times the measured
    # (serve queues the requests the KV cache cannot hold whole; vLLM admitted all at once)
    assert all(0.0 <= rows40[f"M40A-{k:02d}"] <= 18.0 for k in range(11, 54, 3))
    assert all(34.0 <= rows40[f"M40A-{k:02d}"] <= 42.0 for k in range(56, 72, 3))
    assert all(-21.0 <= rows40[f"M40A-{k:02d}"] <= 6.0 for k in range(12, 73, 3))
    assert all(-45.0 <= rows40[f"M40A-{k:02d}"] <= -19.0 for k in range(10, 62, 3))
    assert all(540.0 <= rows40[f"M40A-{k:02d}"] <= 720.0 for k in (64, 67, 70))
    scored = scored[~fortieth]  # the earlier rounds below
    # the thirty-ninth round (seventy-fourth session, blind with 4f4a373's model and bands): 40 rows of three groups (34
    # P90 rows left out before the prediction: tails.csv holds those), all expressible: decode 75.6% (38), prefill
    # 23.4% (2), 15.0% within 25%, 25.0% inside their bands
    thirty_ninth, round39 = _blind_round(table, scored, THIRTY_NINTH_ROUND_IDS, 40, 38, 2)
    assert 65.0 <= round39["phase:decode"]["median_abs_error_pct"] <= 85.0  # 75.6%
    rows39 = _round_errors(scored, THIRTY_NINTH_ROUND_IDS)
    # TGI 1.0.3 (2023) serving Llama-2 at TP 8 on eight A100 40GB, 1-20 clients, 50 output tokens: the times per token
    # 56-93% fast (Llama-2-7B's 25.8 ms at one client against 3.5 predicted: its engine took about 15 times the weights'
    # stream), the end-to-end latencies 42-88% fast; TensorRT-LLM 0.15 and transformers at batch 1 on one A100 80GB,
    # Llama-3.1-8B: -31% to +31%
    assert all(-94.0 <= rows39[f"M39B-{k:02d}"] <= -55.0 for k in range(1, 63, 4))
    assert all(-89.0 <= rows39[f"M39B-{k:02d}"] <= -40.0 for k in range(3, 65, 4))
    assert all(abs(rows39[f"M39B-{k:02d}"]) <= 31.0 for k in (65, 66, 67, 68, 71, 72, 73, 74))
    scored = scored[~thirty_ninth]  # the earlier rounds below
    # the thirty-eighth round (seventy-fourth session, blind with 53bc728's model and bands): 49 rows of three groups
    # (32 tail percentiles left out before the prediction: tails.csv holds those), 41 expressible (one client
    # re-sending a cached prompt is not): decode 31.1% (28), prefill 38.5% (13), 29.3% within 25%, 91.2% of the 34
    # with a band
    thirty_eighth, round38 = _blind_round(table, scored, THIRTY_EIGHTH_ROUND_IDS, 49, 28, 13, expressible=41)
    assert 25.0 <= round38["phase:decode"]["median_abs_error_pct"] <= 40.0  # 31.1%
    assert 30.0 <= round38["phase:prefill"]["median_abs_error_pct"] <= 45.0  # 38.5%
    rows38 = _round_errors(scored, THIRTY_EIGHTH_ROUND_IDS)
    # gpt-oss-20b with vLLM 0.26 on one DGX Spark (llama-benchy): at one request the TTFTs 35-48% slow and the
    # generation rates 30-31% high; at 5-20 clients the per-user rates 20-43% low, the aggregate rates -35% to +9%,
    # the TTFTs 16-85% slow
    assert all(30.0 <= rows38[f"M38B-{k}"] <= 50.0 for k in (49, 66)) and all(
        29.0 <= rows38[f"M38B-{k}"] <= 32.0 for k in (50, 67))
    assert all(-44.0 <= rows38[f"M38B-{k}"] <= -19.0 for k in (52, 55, 58, 61, 64, 69, 72))
    assert all(-36.0 <= rows38[f"M38B-{k}"] <= 10.0 for k in (53, 56, 59, 62, 65, 70, 73))
    assert all(15.0 <= rows38[f"M38B-{k}"] <= 86.0 for k in (51, 54, 57, 60, 63, 68, 71))
    scored = scored[~thirty_eighth]  # the earlier rounds below
    # the thirty-seventh round (seventy-fourth session, blind with 53bc728's model and bands): 32 rows of six groups, 31
    # expressible (one client with 8 attention data-parallel groups is not): decode 33.5% (14), prefill 28.7% (17),
    # 45.2% within 25%, 54.8% inside their bands
    thirty_seventh, round37 = _blind_round(table, scored, THIRTY_SEVENTH_ROUND_IDS, 32, 14, 17, expressible=31)
    assert 25.0 <= round37["phase:decode"]["median_abs_error_pct"] <= 40.0  # 33.5%
    assert 20.0 <= round37["phase:prefill"]["median_abs_error_pct"] <= 35.0  # 28.7%
    rows37 = _round_errors(scored, THIRTY_SEVENTH_ROUND_IDS)
    # Llama-3-8B-shaped prompts on one A100 80GB: 1,000 tokens on vLLM within 2%; 10,000 to 128,000 tokens 8-22% fast
    # on vLLM and 22-30% fast on transformers (its 1,000-token prompt, 0.55 s, 85% fast: a fixed cost per call)
    assert abs(rows37["M37B-01"]) <= 3.0 and all(-23.0 <= rows37[f"M37B-{k:02d}"] <= -7.0 for k in range(2, 6))
    assert all(-31.0 <= rows37[f"M37B-{k:02d}"] <= -21.0 for k in range(7, 17)) and rows37["M37B-06"] <= -80.0
    # Qwen3-30B-A3B at batch 16 with 2,048-token prompts on an H100 PCIe: output rates 23-41% low, TTFTs 131-887% slow
    # (each below the batch's arithmetic at the device's peak: likely one request's); DeepSeek-R1 with 8-way attention
    # data parallelism on eight B200s, 1-9 clients: TPOTs 63-89% fast (the author reports its idle ranks' padding)
    assert all(-42.0 <= rows37[f"M37A-{k:02d}"] <= -22.0 for k in (1, 3, 5, 7, 9, 11))
    assert all(130.0 <= rows37[f"M37A-{k:02d}"] <= 900.0 for k in (2, 4, 6, 8, 10, 12))
    assert all(-90.0 <= rows37[f"M37A-{k}"] <= -60.0 for k in (14, 15, 16))
    scored = scored[~thirty_seventh]  # the earlier rounds below
    # the thirty-sixth round (seventy-fourth session, blind with 023d3a5's model and bands): 73 rows of six groups (50
    # tail percentiles left out before the prediction: tails.csv holds those), 70 expressible (one client re-sending
    # cached prompts is not): decode 12.8% (54), prefill 35.5% (16), 62.9% within 25%, 85.7% inside their bands
    thirty_sixth, round36 = _blind_round(table, scored, THIRTY_SIXTH_ROUND_IDS, 73, 54, 16, expressible=70)
    assert 8.0 <= round36["phase:decode"]["median_abs_error_pct"] <= 18.0  # 12.8%
    assert 25.0 <= round36["phase:prefill"]["median_abs_error_pct"] <= 45.0  # 35.5%
    rows36 = _round_errors(scored, THIRTY_SIXTH_ROUND_IDS)
    # vLLM on one H100 (bf16, up to 8 clients): the TPOTs (medians) 7-38% slow; the vLLM blog's 20,000-token TTFTs
    # within 6%; the open tool's short cached prompts at 4 clients 23-42% fast; its 64-client run, whose throughput sits
    # below its own 16-client run, 77-395% off; DeepSeek-Coder-V2-Lite (TPOT 21 ms) 64-293% off
    assert all(5.0 <= rows36[f"M36A-{k:02d}"] <= 40.0 for k in (2, 5, 14, 27, 34, 41, 48, 55, 69))
    assert all(abs(rows36[f"M36A-{k:02d}"]) <= 7.0 for k in (1, 4))
    assert all(-43.0 <= rows36[f"M36A-{k:02d}"] <= -22.0 for k in (12, 26, 33, 40, 47, 54, 68))
    assert rows36["M36A-19"] >= 300.0 and all(rows36[f"M36A-{k}"] <= -75.0 for k in (20, 22))
    assert all(rows36[f"M36A-{k}"] <= -60.0 for k in (61, 62, 63)) and rows36["M36A-64"] >= 250.0
    # llama.cpp's server on an RTX 3090 at one client (Q4_K_M, q8_0 KV cache): every row within -8% to +12% but two
    # TTFTs (-36% and -17%); LM Studio on an M4 Max: dense rates -21% to +9%, Qwen3-30B-A3B's +27% and +33%;
    # ExLlamaV2's Llama-2-7B on an RTX 4090 -18%
    assert all(-8.0 <= rows36[f"M36B-{k:02d}"] <= 12.5 for k in (2, 3, 4, 5, 14, 15, 16, 17, 18, 28, 29, 30, 31))
    assert -40.0 <= rows36["M36B-01"] <= -30.0 and -20.0 <= rows36["M36B-27"] <= -15.0
    assert all(-22.0 <= rows36[f"M36B-{k:02d}"] <= 10.0 for k in (40, 41, 42, 43, 44, 45, 48))
    assert all(25.0 <= rows36[f"M36B-{k:02d}"] <= 35.0 for k in (46, 47)) and -20.0 <= rows36["M36B-49"] <= -15.0
    scored = scored[~thirty_sixth]  # the earlier rounds below
    # the thirty-fifth round (seventy-fourth session, blind with 4c9d605's model and bands): 27 rows of three sources,
    # 24 expressible (one P99 row left out before the prediction: tails.csv holds those; the three vLLM-Ascend rows of
    # 4-bit activations are not expressible): decode 44.5% (16), prefill 21.8% (8), 33.3% within 25%, 83.3% inside
    # their bands; this session's history item 101 binds none of its devices
    thirty_fifth, round35 = _blind_round(table, scored, THIRTY_FIFTH_ROUND_IDS, 27, 16, 8, expressible=24)
    assert 35.0 <= round35["phase:decode"]["median_abs_error_pct"] <= 55.0  # 44.5%
    assert 15.0 <= round35["phase:prefill"]["median_abs_error_pct"] <= 30.0  # 21.8%
    rows35 = _round_errors(scored, THIRTY_FIFTH_ROUND_IDS)
    # DeepSeek-V3.1 (dummy FP8 weights) with SGLang on eight AMD GPUs (MI300X assumed), 1,024 + 1,024 tokens at batch
    # 1, 2 and 4: the median decode steps (16.7-17.4 ms) predicted 37-46% fast (9.0-11.0 ms), as the SGLang cookbook's
    # MI300X TPOTs of the fourth round; the prompt steps -31% (batch 1, as a rate) to +45% (as a time: 82 ms predicted,
    # SGLang's eager prompt floor, against 57 ms), within 13% at batch 2 and 4
    assert all(-47.0 <= rows35[f"M35A-{k:02d}"] <= -36.0 for k in (3, 9, 15))
    assert 40.0 <= rows35["M35A-01"] <= 50.0 and -35.0 <= rows35["M35A-02"] <= -25.0
    assert all(abs(rows35[f"M35A-{k:02d}"]) <= 13.0 for k in (7, 8, 13, 14))
    # gpt-oss-20b with SGLang at 32 clients on one H100 (Modal): the throughputs 18% high and the end-to-end latencies
    # within 15%, the TTFTs (2.1-3.7 s for a 512-token prompt, flagged by the gatherer) 95% fast
    assert all(15.0 <= rows35[f"M35A-{k}"] <= 20.0 for k in (19, 20))
    assert all(abs(rows35[f"M35A-{k}"]) <= 15.0 for k in (21, 22))
    assert all(rows35[f"M35A-{k}"] <= -94.0 for k in (23, 24))
    scored = scored[~thirty_fifth]  # the earlier rounds below
    # the thirty-fourth round (seventy-third session, blind with bdae114's model and bands): 27 rows of two sources, all
    # expressible (ten P99 rows left out before the prediction: tails.csv holds those): decode 14.9% (22), prefill
    # 62.6% (5), 48.1% within 25%, 66.7% of the 24 with a band inside it; history item 100 binds none of its devices
    thirty_fourth, round34 = _blind_round(table, scored, THIRTY_FOURTH_ROUND_IDS, 27, 22, 5)
    assert 10.0 <= round34["phase:decode"]["median_abs_error_pct"] <= 20.0  # 14.9%
    assert 50.0 <= round34["phase:prefill"]["median_abs_error_pct"] <= 75.0  # 62.6%
    rows34 = _round_errors(scored, THIRTY_FOURTH_ROUND_IDS)
    # Ollama's own decode counters (Q4_K_M, one request, about 2,500 generated tokens): Qwen2.5-32B and Llama-3.1-70B on
    # an RTX PRO 6000 +11% and +13%, on one and two RTX 5090s and RTX 4090s -1% to +7%
    assert all(-3.0 <= rows34[f"M34A-{k:02d}"] <= 15.0 for k in range(1, 8))
    # gpt-oss-20b on vLLM (client-timed, content chunks counted, prompts of about 750 words): at one request the
    # generation rates 64-77% high and the TTFTs 41-43% fast on both devices; at four and eight the rates 15-33% high on
    # the H200 and within 1% on the H100 PCIe, the TTFTs 63-67% fast
    assert all(60.0 <= rows34[k] <= 80.0 for k in ("M34B-05", "M34B-06", "M34B-17", "M34B-18"))
    assert all(-45.0 <= rows34[k] <= -38.0 for k in ("M34B-01", "M34B-13"))
    assert all(-68.0 <= rows34[k] <= -60.0 for k in ("M34B-07", "M34B-19", "M34B-25"))
    assert all(abs(rows34[k]) <= 1.0 for k in ("M34B-09", "M34B-11", "M34B-12"))
    scored = scored[~thirty_fourth]  # the earlier rounds below
    # the thirty-third round (seventy-second session, blind with 8cc8191's model and afd3753's bands): 64 rows of two
    # sources, all expressible: decode 38.8% (32), prefill 57.2% (32), 31.3% within 25%, 93.8% in their bands; since
    # history item 99 (seen rows: the A100's TTFTs motivated it) decode 36.1%, prefill 9.8%, 65.6% within 25%; since
    # history item 100 (seen rows: the A100's generation rates were its lead) decode 19.1%, prefill 8.2%, 93.8% within
    thirty_third, round33 = _blind_round(table, scored, THIRTY_THIRD_ROUND_IDS, 64, 32, 32)
    assert 15.0 <= round33["phase:decode"]["median_abs_error_pct"] <= 23.0  # 19.1%
    assert round33["phase:prefill"]["median_abs_error_pct"] <= 15.0  # 8.2% (57.2% blind)
    rows33 = _round_errors(scored, THIRTY_THIRD_ROUND_IDS)
    # Ollama (Q4_K_M), one streamed request at a time, each request its own prompt: on the RTX 4090 Qwen2.5-32B's
    # TTFTs -14% to +5% and generation rates +15% to +21%; on the A100 its TTFTs -14% to -10% (49-62% fast blind,
    # before the A100's MMQ prompts were bound at 108 SMs x 1.41 GHz) and generation rates +8% to +21% (+36% to +52%
    # before its streams were bound, history item 100), Llama-3.1-70B's TTFTs -8% to -3% and generation rates -6% to
    # +7% (+20% to +37% before)
    assert all(-15.0 <= rows33[f"M33B-{k:02d}"] <= 6.0 for k in range(1, 20, 2))
    assert all(14.0 <= rows33[f"M33B-{k:02d}"] <= 22.0 for k in range(2, 21, 2))
    assert all(-15.0 <= rows33[f"M33B-{k:02d}"] <= -2.0 for k in range(21, 60, 2))
    assert all(7.0 <= rows33[f"M33B-{k:02d}"] <= 22.0 for k in range(22, 41, 2))
    assert all(-7.0 <= rows33[f"M33B-{k:02d}"] <= 8.0 for k in range(42, 61, 2))
    # llama-bench on a Jetson AGX Orin 64GB, Llama-3.2-1B Q4_K_M: prompt and generation rates about 3 times the
    # measured (its generation moves 26 GB/s of 205: a power mode the source does not state, likely below MAXN)
    assert all(185.0 <= rows33[f"M33B-{k:02d}"] <= 240.0 for k in range(61, 65))
    scored = scored[~thirty_third]  # the earlier rounds below
    # the thirty-second round (seventy-first session, blind with 93b2ecc's model and afd3753's bands): 6 rows of one
    # source, all expressible (two P99 rows left out before the prediction: tails.csv holds those), vLLM on one TPU v6e
    # (ASSUMED from the author's identical run on a v6e-1), Llama-3.1-8B, 1,000 prompts of 1,800 + 128 tokens at once:
    # decode 1.2% (4), prefill 4.0% (2), all six within 25% and inside their bands
    thirty_second, round32 = _blind_round(table, scored, THIRTY_SECOND_ROUND_IDS, 6, 4, 2)
    assert round32["phase:decode"]["median_abs_error_pct"] <= 5.0 and round32["phase:prefill"]["within_25pct"] == 1.0
    rows32 = _round_errors(scored, THIRTY_SECOND_ROUND_IDS)
    assert all(abs(e) <= 5.0 for e in rows32.values()) and len(rows32) == 6
    scored = scored[~thirty_second]  # the earlier rounds below
    # the thirty-first round (seventy-first session, blind with f3ed699's model and afd3753's bands): 42 rows, all
    # expressible (three TTFTs of unstated prompts left out before the prediction): decode 14.3% (30; per-source
    # medians 41.8%), prefill 90.4% (12), 47.6% within 25%, 92.9% in their bands
    thirty_first, round31 = _blind_round(table, scored, THIRTY_FIRST_ROUND_IDS, 42, 30, 12)
    assert 8.0 <= round31["phase:decode"]["median_abs_error_pct"] <= 22.0  # 14.3%
    assert 70.0 <= round31["phase:prefill"]["median_abs_error_pct"] <= 120.0  # 90.4%
    rows31 = _round_errors(scored, THIRTY_FIRST_ROUND_IDS)
    # SGLang's bench_one_batch_server, Qwen3-235B-A22B FP8 at TP 8 and EP 2, 4,096 + 512 tokens, batch 1-64: the
    # prompt rates 72-85% high on eight H200s (78-91% since history item 99 raised the Hopper GEMM fraction) and
    # 96-243% high on eight B200s (one noisy B200 row at batch 2, 569%; the B200s measured 0-28% above the H200s where
    # the prediction doubles), the TPOTs -34% to +2% (H200) and -2% to +9% (B200)
    assert all(70.0 <= rows31[f"M31A-{k:02d}"] <= 92.0 for k in range(1, 17, 3))
    assert all(90.0 <= rows31[f"M31A-{k:02d}"] <= 250.0 for k in (19, 25, 28, 31, 34)) and rows31["M31A-22"] >= 500.0
    assert all(-35.0 <= rows31[f"M31A-{k:02d}"] <= 3.0 for k in range(2, 18, 3))
    assert all(-3.0 <= rows31[f"M31A-{k:02d}"] <= 10.0 for k in range(20, 36, 3))
    # MLX and llama.cpp at one request on Apple silicon: on an M4 Max the generation rates of the 4-bit Llama-3.2-1B
    # and -3B predicted 37% and 28% low, Qwen3-30B-A3B's within 1%; on an M2 Ultra through an HTTP server,
    # Qwen3-30B-A3B's output rate predicted 85% (MLX) and 98% (llama.cpp) high, Llama-3.2-3B's 26% low
    assert -40.0 <= rows31["M31B-01"] <= -30.0 and -32.0 <= rows31["M31B-03"] <= -24.0
    assert abs(rows31["M31B-05"]) <= 3.0 and -30.0 <= rows31["M31B-09"] <= -20.0
    assert 80.0 <= rows31["M31B-07"] <= 100.0 and 90.0 <= rows31["M31B-08"] <= 105.0
    scored = scored[~thirty_first]  # the earlier rounds below
    # the thirtieth round (seventy-first session, blind with afd3753's model and bands): 60 rows, all expressible:
    # decode 56.9% (39; per-source medians 49.2%), prefill 67.1% (21), 25.0% within 25%, 65.0% in their bands
    thirtieth, round30 = _blind_round(table, scored, THIRTIETH_ROUND_IDS, 60, 39, 21)
    assert 40.0 <= round30["phase:decode"]["median_abs_error_pct"] <= 75.0  # 56.9%
    assert 50.0 <= round30["phase:prefill"]["median_abs_error_pct"] <= 85.0  # 67.1%
    rows30 = _round_errors(scored, THIRTIETH_ROUND_IDS)
    # vLLM 0.28 on eight RTX 5090s at a 400 W power limit, client-timed, fixed lengths: gpt-oss-20b as eight one-GPU
    # replicas runs twice as fast as predicted (output throughput -43% to -57%, TPOT +84% to +159%: its MoE GEMMs ran
    # with MXFP8 activations, which the datatype column cannot state, priced here at BF16); gpt-oss-120b at TP 4 over
    # PCIe without NVLink runs five to seven times slower (TPOT -69% to -83%, TTFT -89% to -99%: about 1,640 output
    # tokens/s for the node at 256 and 1,024 clients, a ceiling the author reports as 8x below one model per card)
    assert all(-60.0 <= rows30[f"M30A-{k:02d}"] <= -40.0 for k in (1, 6, 11))
    assert all(80.0 <= rows30[f"M30A-{k:02d}"] <= 160.0 for k in (4, 9, 14))
    assert all(-85.0 <= rows30[f"M30A-{k:02d}"] <= -65.0 for k in (19, 24, 29))
    assert all(130.0 <= rows30[f"M30A-{k:02d}"] <= 160.0 for k in (16, 21, 26))
    # llama-bench on the Ryzen AI Max+ 395 (build b9187, flash attention on, ROCm 6.4.4, 7.2.3 and 7 nightly, Vulkan
    # AMDVLK and RADV): every tg128 within -22% to -5%; pp512 of gpt-oss-120b 28-47% high, gpt-oss-20b 71-125% high,
    # Llama-2-7B 39-61% high, and 520% high on AMDVLK (347 tokens/s against 1,338-1,545 on the other four builds)
    assert all(-22.0 <= rows30[f"M30B-{k:02d}"] <= -4.0 for k in range(2, 31, 2))
    assert all(25.0 <= rows30[f"M30B-{k:02d}"] <= 50.0 for k in (1, 3, 5, 7, 9))
    assert all(70.0 <= rows30[f"M30B-{k:02d}"] <= 130.0 for k in (11, 13, 15, 17, 19))
    assert all(35.0 <= rows30[f"M30B-{k:02d}"] <= 65.0 for k in (21, 23, 25, 29)) and rows30["M30B-27"] >= 400.0
    scored = scored[~thirtieth]  # the earlier rounds below
    # the twenty-ninth round (seventieth session, blind with 2b21575's model and bands): 94 rows, all expressible:
    # decode 6.0% (61; per-source medians 6.0%), prefill 222.7% (33; per-source medians 124.4%), 54.3% within 25%,
    # 74.5% in their bands (85.5% per source)
    twenty_ninth, round29 = _blind_round(table, scored, TWENTY_NINTH_ROUND_IDS, 94, 61, 33)
    assert round29["phase:decode"]["median_abs_error_pct"] <= 10.0  # 6.0%
    assert round29["phase:prefill"]["median_abs_error_pct"] >= 100.0  # 222.7%
    rows29 = _round_errors(scored, TWENTY_NINTH_ROUND_IDS)
    # vLLM's Mixtral-8x7B at batch 1-16 (1,000 + 50 tokens), early 2024: on two A100s -23% to +5%, on eight H100s 44-64%
    # fast (0.46-1.09 s measured, about twice the prediction, on the V0 engine of that time); Mixtral-8x22B on
    # four and eight A100s -15% to +15% (-11% to +20% since history item 99 refitted the Ampere family, -16% to +13%
    # since history item 100's refit read its HBM at 0.872 for 0.809)
    assert all(-25.0 <= rows29[f"M29A-{k:02d}"] <= 10.0 for k in range(11, 21))
    assert all(-65.0 <= rows29[f"M29A-{k:02d}"] <= -40.0 for k in range(1, 11))
    assert all(-17.0 <= rows29[f"M29A-{k:02d}"] <= 21.0 for k in range(21, 29))
    # llama-bench's tg128 on the Ryzen AI Max+ 395: Q4 Qwen3-30B-A3B on Vulkan within -5% (twelve rows), the dense
    # Llama-2-7B and Qwen3-32B within -5% to +6%, gpt-oss-120b on ROCm 7.0.2 -6%; the prompt rates of May-June 2025
    # builds 2-25 times the measured (Vulkan's Qwen3-30B-A3B at 72 tokens/s, a slowdown the author reports for that
    # build; ROCm 6.4's 365-413), gpt-oss-120b's on ROCm 7.0.2 +20%
    assert all(-6.0 <= rows29[f"M29B-{k:02d}"] <= 0.0 for k in (2, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32))
    assert all(-6.0 <= rows29[f"M29B-{k:02d}"] <= 7.0 for k in (4, 8, 10, 38, 42, 44, 52, 54, 56, 62, 64, 66))
    assert all(rows29[f"M29B-{k:02d}"] >= 1800.0 for k in (1, 5, 11, 13))
    assert 10.0 <= rows29["M29B-65"] <= 25.0
    scored = scored[~twenty_ninth]  # the earlier rounds below
    # the twenty-eighth round (sixty-ninth session, blind with 8dbe098's model), devices no fit has seen, on the
    # physics defaults: 119 rows, all expressible: decode 22.7% (74; per-source medians 15.8%), prefill 68.8% (45),
    # 36.1% within 25%, 63.9% in their bands
    twenty_eighth, round28 = _blind_round(table, scored, TWENTY_EIGHTH_ROUND_IDS, 119, 74, 45)
    assert 15.0 <= round28["phase:decode"]["median_abs_error_pct"] <= 30.0  # 22.7%
    assert 50.0 <= round28["phase:prefill"]["median_abs_error_pct"] <= 90.0  # 68.8%
    rows28 = _round_errors(scored, TWENTY_EIGHTH_ROUND_IDS)
    # llama-bench's tg128 on the Ryzen AI Max+ 395 (Vulkan and ROCm builds): every decode rate within -28% to +7%;
    # its pp rates on RADV and ROCm 26-71% high (Qwen3-30B-A3B's and Llama-2-7B's 47-71%, asserted below; llama.cpp's
    # prompt kernels reach about half to four fifths of the rate the defaults price, 60% of the WMMA peak, where
    # hipBLASLt's BF16 GEMM measures 62%), on AMDVLK 4.2-5.6 times the measured
    tg = (2, 4, 6, 8, 10, 12, 14, 16, 21, 26, 29, 31)
    assert all(-30.0 <= rows28[f"M28A-{k:02d}"] <= 10.0 for k in tg)
    assert all(40.0 <= rows28[f"M28A-{k:02d}"] <= 75.0 for k in (1, 5, 9, 11, 15, 17, 18, 19, 20, 27, 28, 30))
    assert all(300.0 <= rows28[f"M28A-{k:02d}"] <= 600.0 for k in range(22, 26))
    # wang-junjian's runs at one client on the Thor: the nine TTFTs (23-78 ms for 2,043-token prompts) are below the
    # prompt's arithmetic at the device's full peak, 2 x parameters x tokens / peak (Qwen3-8B: 2 x 8.19e9 x 2,043 /
    # 258.5e12 = 129 ms; the MoE's active 3.3e9: 52 ms), so the server had the prompts cached (the post does not say
    # so, and the rows stay as published): every one is predicted 3-11 times the measured
    flops_floor_s = 2 * genmodel.get_model("qwen3-8b").total_params * 2043 / 258.5e12
    assert 0.125 <= flops_floor_s <= 0.135
    assert all(200.0 <= rows28[f"M28B-{k:02d}"] <= 1100.0 for k in (33, 39, 45, 51, 57, 63, 69, 75, 81))
    # validate's check of each row against the ideal roofline of its stated work (genmodel.validation.beyond_ideal, a
    # figure more than 10% beyond it; a served time against one request's alone) flags those nine, the FP8 run's
    # TPOT and output throughput at one client and its TPOT at eight, and 12 rows of the earlier rounds (24 of the
    # file's 1,716 rows with an ideal: 1,081 static, 635 served)
    flagged = v.beyond_ideal(table)
    # (none of the twenty-ninth round's 94, the thirtieth's 48 with an ideal, the thirty-first's 42, the
    # thirty-second's 4, the thirty-third's 64, the thirty-fourth's 21, the thirty-fifth's 22 or the thirty-sixth's 39;
    # the thirty-seventh's six Qwen3-30B-A3B TTFTs at batch 16 are, of its 28; none of the thirty-eighth's 23 or the
    # thirty-ninth's 40, the fortieth's 21; of the forty-first's 64, gpt-oss-120b's llama-bench prompt rate on a DGX
    # Spark, 2,450 tokens/s against an ideal of 2,133 at the FP16 activations' rate: ggml's MXFP4 prompts run on
    # int8 MMQ kernels, whose tensor rate is higher)
    # (none of the forty-second's 18, the forty-third's 4, the forty-fourth's 4)
    assert (flagged["rows"], flagged["beyond"]) == (2252, 31)
    assert {i for i in flagged["ids"] if i.startswith(FORTY_FIRST_ROUND_IDS)} == {"M41A-01"}
    assert {i for i in flagged["ids"] if i.startswith(THIRTY_SEVENTH_ROUND_IDS)} == {
        f"M37A-{k:02d}" for k in (2, 4, 6, 8, 10, 12)}
    assert {i for i in flagged["ids"] if i.startswith(TWENTY_EIGHTH_ROUND_IDS)} == {
        f"M28B-{k:02d}" for k in (33, 37, 38, 39, 40, 45, 51, 57, 63, 69, 75, 81)}
    scored = scored[~twenty_eighth]  # the earlier rounds below
    # the twenty-seventh round (sixty-eighth session, blind with 9ac8e2a's model): 69 rows, 67 expressible (two MLX
    # prompts of Mistral-7B at 33,898 tokens exceed its context), batch-1 latency of popular models: decode 30.0%
    # blind, 21.5% (36; per-source medians 21.9%) since 20 rows' "(no --enforce-eager stated)" no longer reads as the
    # flag (genmodel.validation.rows._stated, seen rows); prefill 36.7% (31, signed +36.7%); 44.8% -> 56.7% within 25%
    twenty_seventh, round27 = _blind_round(table, scored, TWENTY_SEVENTH_ROUND_IDS, 69, 36, 31, expressible=67)
    assert 15.0 <= round27["phase:decode"]["median_abs_error_pct"] <= 28.0  # 21.5% (30.0% blind)
    assert 25.0 <= round27["phase:prefill"]["median_abs_error_pct"] <= 50.0  # 36.7%
    rows27 = _round_errors(scored, TWENTY_SEVENTH_ROUND_IDS)
    # vLLM's benchmark_latency of Llama-3.1-8B on one H100, 256 + 32 tokens at batch 1-16: bf16 and the pull
    # request's Marlin-based RTN kernels within -17% to +21%; main's older RTN kernels 37-82% faster predicted than run
    assert all(-20.0 <= rows27[f"M27A-{k:02d}"] <= 25.0 for k in (*range(1, 5), *range(9, 13), *range(17, 21)))
    assert all(rows27[f"M27A-{k:02d}"] <= -35.0 for k in (*range(5, 9), *range(13, 17)))
    scored = scored[~twenty_seventh]  # the earlier rounds below
    # the twenty-sixth round, blind (sixty-eighth session, 5bec94f's model): 36 rows from 5 groups, all expressible:
    # decode 15.6% (20; per-source medians 38.3%), prefill 46.3% (16, signed -42.2%), 41.7% within 25%, 86.1% in
    # their bands
    twenty_sixth, round26 = _blind_round(table, scored, TWENTY_SIXTH_ROUND_IDS, 36, 20, 16)
    assert 10.0 <= round26["phase:decode"]["median_abs_error_pct"] <= 22.0  # 15.6%
    assert 35.0 <= round26["phase:prefill"]["median_abs_error_pct"] <= 60.0  # 46.3%
    rows26 = _round_errors(scored, TWENTY_SIXTH_ROUND_IDS)
    # DeepSeek-R1 in NVFP4 on 8 B200s, one request at a time to trtllm-serve (TensorRT-LLM 0.21): TPOT within 5-14%
    # (slow), TTFT 46-50% fast at 1,600 prompt tokens and 76-80% fast at 8,192, where the model prices the eager
    # prompt step at its host floor (about 86-93 ms) and the engine took 160-448 ms
    assert all(0.0 <= rows26[f"M26A-{k:02d}"] <= 20.0 for k in range(1, 12, 2))
    assert all(-85.0 <= rows26[f"M26A-{k:02d}"] <= -40.0 for k in range(2, 13, 2))
    # Llama-3.1-8B FP8 at TP 8 with SGLang, prompt steps eager (M26C-01..08) and from piecewise graphs (09..16): the
    # eager steps' extra time at one client is 10.3 ms measured and 11.2 ms predicted (29.97 - 19.66 ms against
    # 23.2 - 12.0 ms), while both TTFTs are short of the measured ones by about 7 ms
    measured_gap, predicted_gap = 29.97 - 19.66, (1 + rows26["M26C-01"] / 100) * 29.97 - (
        1 + rows26["M26C-09"] / 100) * 19.66
    assert abs(predicted_gap - measured_gap) <= 2.0
    scored = scored[~twenty_sixth]  # the earlier rounds below
    # the twenty-fifth round, blind: 92 rows from 2 sources, all expressible: decode 49.0% (61; per-source medians
    # 34.7%), prefill 42.2% (31), 25.0% within 25%, 23.9% in their bands. With a run of one wave (history item 81,
    # seen rows): decode 32.1% (per-source medians 25.9%), prefill 45.9%, 33.7% within 25%
    twenty_fifth, round25 = _blind_round(table, scored, TWENTY_FIFTH_ROUND_IDS, 92, 61, 31)
    assert 25.0 <= round25["phase:decode"]["median_abs_error_pct"] <= 40.0  # 32.1% (49.0% blind)
    rows25 = _round_errors(scored, TWENTY_FIFTH_ROUND_IDS)
    # Qwen3-32B, 100 prompts of 1,024-15,000 tokens sent by 100 clients at once (vLLM 0.14.1, TP 8 or two TP 4
    # replicas): blind, every TPOT predicted slow (+12% to +262%, a median +126%: the steady state's TPOT, every step
    # carrying a prompt); as one wave (item 81) -12% to +100%, a median +39%, what is left being the prompt steps'
    # error: the TTFTs a median 43% slow (40% blind), 97-121% on H100 and H200 at TP 8 from 2,048 tokens; the output
    # throughputs a median 30% low (28% blind)
    tpots = [rows25[f"M25A-{k:02d}"] for k in range(2, 91, 3)]
    assert all(-15.0 <= e <= 105.0 for e in tpots) and 25.0 <= float(np.median(tpots)) <= 55.0
    assert float(np.median([rows25[f"M25A-{k:02d}"] for k in range(1, 91, 3)])) >= 25.0
    assert float(np.median([rows25[f"M25A-{k:02d}"] for k in range(3, 91, 3)])) <= -15.0
    scored = scored[~twenty_fifth]  # the earlier rounds below
    # the twenty-fourth round, blind: 120 rows from 2 sources, all expressible, all served: decode 39.2% (80; per-source
    # medians 40.2%), prefill 90.6% (40, signed -90.6%: too fast), 26.7% within 25%, 64.2% in their bands. With a
    # finite run as a slow wave (history item 82, seen rows): decode 28.2% (27.6%), prefill 72.6% (signed -72.6%),
    # 32.5% within 25%; with waves on separate prefill steps (item 83, seen rows): decode 23.9% (24.3%), 35.8%
    twenty_fourth, round24 = _blind_round(table, scored, TWENTY_FOURTH_ROUND_IDS, 120, 80, 40)
    assert 20.0 <= round24["phase:decode"]["median_abs_error_pct"] <= 30.0  # 23.9% (28.2% before item 83, 39.2% blind)
    assert round24["phase:prefill"]["median_signed_error_pct"] <= -60.0  # -72.6% (-90.6% blind)
    rows24 = _round_errors(scored, TWENTY_FOURTH_ROUND_IDS)
    # DeepSeek-R1, 50 requests arriving at 10/s on 8 H200s: every mean TTFT 48-98% below the measured one (68-98%
    # blind; 57-98% before history item 84 chained the 30,000-token prompts that the KV cache holds 22 of; the model
    # prefills the run's 50 x 1,000-30,000 prompt tokens 2-30x faster than the engines did, so it queues them less);
    # the output throughputs of vLLM and TensorRT-LLM a median 41% off (87% before item 82: the
    # run was taken for the steady state past its saturation rate, its end for a batch falling from 336 to none);
    # vLLM's TPOTs on the DGX (TP 8, with and without expert parallelism) 13-29% fast at 1,000-10,000 prompt tokens
    # (within 12% before item 82, with the steady state's prompt chunks in every step; 15-31% fast since history item
    # 99 raised the Hopper GEMM fraction)
    assert all(-99.0 <= rows24[f"M24A-{k:02d}"] <= -45.0 for k in range(1, 85, 3))
    assert all(-32.0 <= rows24[f"M24A-{k:02d}"] <= -10.0 for k in (2, 5, 8, 14, 17, 20))
    throughputs = [rows24[f"M24A-{k:02d}"] for k in (3, 6, 9, 15, 18, 21, 39, 42, 45, 51, 54, 57, 63, 66, 69)]
    assert float(np.median(np.abs(throughputs))) <= 30.0  # (vLLM and TensorRT-LLM, 1,000-10,000 tokens: 21.4%; 67.9%)
    # gpt-oss-120b on H100 replicas (Ray Serve over vLLM 0.11.0, 5,000 + 250 tokens): TPOT within 25% at 48 and 64
    # clients (and at 32 on TP 4), 28-39% fast at 4 and 8 clients; the output throughputs 2-79% high (6-80% since
    # history item 99). SGLang 0.4.5's runs (separate prefill steps) of 1,000-10,000 prompt tokens: TPOTs 68-214% slow
    # under the steady state's prefill steps, -39% to +21% as a slow wave (item 83; -41% to +18% since item 99), the
    # runs of 1,000 and 5,000 tokens within 21% (23% since item 99)
    assert all(abs(rows24[f"M24A-{k}"]) <= 23.0 for k in (26, 29, 74, 77))
    assert all(-42.0 <= rows24[f"M24A-{k}"] <= 25.0 for k in (26, 29, 32, 74, 77, 80))
    assert all(abs(rows24[f"M24A-{k}"]) <= 25.0 for k in (98, 101, 113, 116, 119))
    assert all(0.0 <= rows24[f"M24A-{k}"] <= 81.0 for k in range(87, 121, 3))
    scored = scored[~twenty_fourth]  # the earlier rounds below
    # the twenty-third round, blind: 18 rows from 1 source, all expressible, all prompt passes: prefill 13.4% (signed
    # +9.2%), 16 of 18 within 25%, every row inside its stored band (bands made without it)
    twenty_third, round23 = _blind_round(table, scored, TWENTY_THIRD_ROUND_IDS, 18, 0, 18)
    assert 8.0 <= round23["phase:prefill"]["median_abs_error_pct"] <= 20.0  # 13.4%
    assert round23["phase:prefill"]["within_25pct"] >= 0.8  # 88.9%
    rows23 = _round_errors(scored, TWENTY_THIRD_ROUND_IDS)
    # the prompt's length moves the error from slow to fast: 1,024 tokens on two cards +28% (predicted 378 ms against
    # 295), 32,768 tokens on eight -16.5% (3.65 s against 4.37); at 8,192 and 16,384 tokens within 11%
    assert rows23["M23A-01"] >= 15.0 and rows23["M23A-18"] <= -5.0
    assert all(abs(rows23[f"M23A-{k:02d}"]) <= 11.0 for k in range(10, 16))
    scored = scored[~twenty_third]  # the first twenty rounds below
    # the twentieth round, blind: 71 rows from 4 sources, all expressible: decode 18.8% (61), prefill 57.0% (10)
    twentieth, round20 = _blind_round(table, scored, TWENTIETH_ROUND_IDS, 71, 61, 10)
    assert 12.0 <= round20["phase:decode"]["median_abs_error_pct"] <= 25.0  # 18.8%
    rows20 = _round_errors(scored, TWENTIETH_ROUND_IDS)
    # Red Hat's single-stream vLLM 0.7.2 latencies: a median 7.8% off; the BF16 rows within 8% (H100 and A100, the
    # 256 + 1,024 and 4,096 + 512 use cases; within 14% since history item 99, whose refit of the Ampere family reads
    # the A100's HBM at 81% of its bandwidth where it read 87%: M20A-26 +13.9%)
    redhat = [rows20[f"M20A-{k:02d}"] for k in range(1, 33)]
    assert float(np.median(np.abs(redhat))) <= 10.0
    assert all(abs(rows20[f"M20A-{k:02d}"]) <= 14.0 for k in (1, 2, 8, 9, 15, 16, 19, 22, 23, 26, 29, 30, 32))
    # DeepSeek-V2.5 served eagerly (V0, --enforce-eager) on 16 A100 40GB over two VMs: every TTFT and TPOT 54-95% fast
    assert all(-95.0 <= rows20[f"M20B-{k}"] <= -54.0 for k in (19, 20, 22, 23, 25, 26, 28, 29))
    scored = scored[~twentieth]  # the first nineteen rounds below
    # the nineteenth round, blind: 68 rows from 5 sources, all expressible: decode 22.2% (66), prefill 16.7% (2)
    nineteenth, round19 = _blind_round(table, scored, NINETEENTH_ROUND_IDS, 68, 66, 2)
    assert 15.0 <= round19["phase:decode"]["median_abs_error_pct"] <= 30.0  # 22.2% (19.6% before history item 83)
    assert round19["phase:decode"]["within_25pct"] >= 0.6  # 63.6% (71.2% before item 83)
    rows19 = _round_errors(scored, NINETEENTH_ROUND_IDS)
    # Intel's optimum-habana reference throughputs (Gaudi software 1.20, FP8, static batches of 95 to 4,000): all
    # predicted low, by 53% at most (Llama-3.1-70B, 2,048 + 128 tokens on two Gaudi 2), 15% high at most
    gaudi = [rows19[f"M19B-{k:02d}"] for k in range(1, 41)]
    assert all(-55.0 <= e <= 15.0 for e in gaudi) and float(np.median(gaudi)) <= -15.0
    # llama.cpp on a DGX Spark (Qwen2.5-7B, Q4_K_M): within 18%
    assert all(abs(rows19[f"M19A-{k:02d}"]) <= 18.0 for k in (1, 2, 3, 4))
    # Lambda's vLLM 0.5.4 runs of 10 and 40 ShareGPT prompts sent at once: a run lasts as long as its longest answer
    # (docs/serving.md section 2d). Given the runs' published request lengths (their spread and longest answer, from
    # the files' arrays: fifty-fifth session) the output throughputs were 19-46% high, where identical lengths of the
    # mean made them 2-3x the measured ones (+193% to +221%); the 320-prompt runs' within 25% (+65% at most before);
    # the TPOTs within 25%. (The round's decode median went from 22.2% to 19.6% with them, 63.6% to 71.2% within 25%.)
    # Since history item 83 (sixtieth session) a burst on V0's separate prefill steps is one wave, every prompt first
    # and then every decode together, where the closed loop's steady state had put prefill steps between the decodes
    # for the whole run: the throughputs are 34-67% high for 10 and 40 prompts and -2.5% to +39% for 320, the TPOTs
    # 9-46% fast (the round's decode median 22.2%, 63.2% within 25%). What the steady state's prefill steps made up
    # for is 0.5.x's host time per step, its API server and scheduler in the engine's process, 62% of the step for
    # Llama 3 8B on one H100 in the vLLM team's 0.5.3 profile (vLLM blog, 2024-09-05), which no profile models
    assert all(25.0 <= rows19[f"M19A-{k}"] <= 70.0 for k in (17, 19, 29))
    assert all(abs(rows19[f"M19A-{k}"]) <= 45.0 for k in (21, 23, 25, 27, 31))  # (M19A-27 +43.5% since item 99)
    assert all(-50.0 <= rows19[f"M19A-{k}"] <= -5.0 for k in (18, 20, 22, 24, 26, 28, 30, 32))
    scored = scored[~nineteenth]  # the first eighteen rounds below
    # the eighteenth round, blind: 4 rows from 1 source, all expressible: decode 29.6% (2), prefill 34.3% (2)
    eighteenth, round18 = _blind_round(table, scored, EIGHTEENTH_ROUND_IDS, 4, 2, 2)
    assert 20.0 <= round18["phase:decode"]["median_abs_error_pct"] <= 40.0  # 29.6%
    rows18 = _round_errors(scored, EIGHTEENTH_ROUND_IDS)
    # llama.cpp's llama-bench on one RTX 5090: the dense Qwen3-8B (Q8_0) within 17% (decode rate -17%, 512-token prompt
    # rate -3%, -18% since history item 99 bound its MMQ GEMMs at 260 multiply-accumulates per SM and clock); the MoE
    # Qwen3-30B-A3B (Q4_K_M) decode rate 42% low and prompt rate 66% high, the two ways MoE rows miss (history item 53)
    assert abs(rows18["M18A-02"]) <= 20.0 and abs(rows18["M18A-04"]) <= 20.0
    assert -50.0 <= rows18["M18A-01"] <= -35.0 and 55.0 <= rows18["M18A-03"] <= 75.0
    scored = scored[~eighteenth]  # the first seventeen rounds below
    # the seventeenth round, blind: 13 rows from 2 sources, all expressible: decode 15.3% (9), prefill 69.5% (4)
    seventeenth, round17 = _blind_round(table, scored, SEVENTEENTH_ROUND_IDS, 13, 9, 4)
    assert 8.0 <= round17["phase:decode"]["median_abs_error_pct"] <= 25.0  # 15.3%
    rows17 = _round_errors(scored, SEVENTEENTH_ROUND_IDS)
    # Qwen3-235B-A22B FP8 with vLLM 0.27.1 on four RTX PRO 6000 Blackwell cards without NVLink: its four mean or
    # median TTFTs (one client, and 32 clients with TP 4, TP 4 + EP 4 and PP 4) 47-76% fast, as history item 53 found
    # of MoE prompts; its one-client TPOTs and 32-client throughputs within 29%; the TPU's batch-1 decode rate +10%
    assert all(-80.0 <= rows17[f"M17A-{k:02d}"] <= -40.0 for k in (1, 4, 9, 12))
    assert all(abs(rows17[f"M17A-{k:02d}"]) <= 30.0 for k in (2, 3, 5, 6, 7, 8, 10, 11))
    assert abs(rows17["M17B-01"]) <= 15.0
    scored = scored[~seventeenth]  # the first sixteen rounds below
    # the sixteenth round, blind: 37 rows from 2 sources, all expressible, all in the decode phase (output
    # throughputs): 16.9%
    sixteenth, round16 = _blind_round(table, scored, SIXTEENTH_ROUND_IDS, 37, 37, 0)
    assert 10.0 <= round16["phase:decode"]["median_abs_error_pct"] <= 25.0  # 16.9%
    rows16 = _round_errors(scored, SIXTEENTH_ROUND_IDS)
    # optimum-habana on Gaudi 2 and 3, batch 1-4, an 8-token prompt and 100 tokens out: the dense models on one card
    # within 30% (Llama-2-7B, Llama-3-8B, Mistral-7B, Qwen2.5-7B at batch 4, Qwen3-8B, Gemma-2/3-27B; -20..+29%); its
    # MoE models at batch 1 1.6-7x slower than predicted (Qwen1.5-MoE, gpt-oss-20b, DeepSeek-V2-Lite, Qwen3-30B-A3B;
    # its gpt-oss layer multiplies by all 32 experts' weights, its Qwen3-MoE block breaks the graph every layer, which
    # genmodel does not model), but Mixtral-8x7B within 16%
    dense = [f"M16B-{k:02d}" for k in (1, 2, 3, 4, 5, 10, 11, 12, 13, 17, 18, 19, 20, 23, 24)]
    assert all(abs(rows16[k]) <= 30.0 for k in dense), {k: rows16[k] for k in dense}
    assert all(rows16[f"M16B-{k:02d}"] >= 50.0 for k in (8, 9, 14, 15, 16, 21, 22))
    assert all(abs(rows16[f"M16B-{k:02d}"]) <= 16.0 for k in (6, 7))
    # EvalScope's QwQ-32B (Qwen2.5-32B shapes) on A100s, 2,048 tokens out after prompts of 1 to 30,720 tokens: vLLM
    # 0.6.3 on two within 6% (-2.5% to 0% since history item 99, +3.3% to +6.3% since item 100's Ampere refit);
    # transformers on one 22% to 3.2x fast as the prompt grows
    assert all(-3.0 <= rows16[f"M16A-{k:02d}"] <= 7.0 for k in (5, 6, 7, 8))
    assert [rows16[f"M16A-{k:02d}"] for k in (1, 2, 3, 4)] == sorted(rows16[f"M16A-{k:02d}"] for k in (1, 2, 3, 4))
    scored = scored[~sixteenth]  # the first fifteen rounds below
    # the fifteenth round, blind: 28 rows from 2 sources, all expressible: decode 25.4% (27), prefill 67.6% (1)
    fifteenth, round15 = _blind_round(table, scored, FIFTEENTH_ROUND_IDS, 28, 27, 1)
    assert 18.0 <= round15["phase:decode"]["median_abs_error_pct"] <= 35.0  # 25.4%
    rows15 = _round_errors(scored, FIFTEENTH_ROUND_IDS)
    # calm runs a token as one kernel near the RTX 4090's bandwidth (its README: 781-925 of about 1,008 GB/s); on
    # vLLM's profile (host work per step, ~290 kernels of at least 4 us each) every rate comes out low, the more so the
    # smaller the weights: fp16 -16..-20%, 4-bit (calm's gf4, written int4, with genmodel's default fp32 embedding
    # and LM head for fp32 activations) -22..-47%
    calm_fp16 = [f"M15A-{k:02d}" for k in (1, 2, 7, 8, 17, 18)]
    calm_4bit = [f"M15A-{k:02d}" for k in (5, 6, 11, 12, 15, 16, 21, 22, 23, 24, 25, 26)]
    assert all(-21.0 <= rows15[k] <= -15.0 for k in calm_fp16), {k: rows15[k] for k in calm_fp16}
    assert all(-50.0 <= rows15[k] <= -20.0 for k in calm_4bit), {k: rows15[k] for k in calm_4bit}
    assert max(rows15[k] for k in calm_4bit) < min(rows15[k] for k in calm_fp16)
    scored = scored[~fifteenth]  # the first fourteen rounds below
    # the fourteenth round: 53 rows from 2 sources, all expressible. Blind (the vllm profile, as their `other` engine
    # fell back to): decode 69.4% (43), prefill 10.4% (10), 24.5% within 25%, 30% in their bands; with transformers'
    # own profile (history item 49, seen rows): decode 28.5%, prefill 23.1%, 50.9% within 25%; with bitsandbytes'
    # dequantized copies (history item 50, seen rows): decode 16.5%, 54.7% within 25%
    fourteenth, round14 = _blind_round(table, scored, FOURTEENTH_ROUND_IDS, 53, 43, 10)
    assert 10.0 <= round14["phase:decode"]["median_abs_error_pct"] <= 25.0  # 16.5% (28.5% before item 50)
    assert 15.0 <= round14["phase:prefill"]["median_abs_error_pct"] <= 30.0  # 23.1%
    rows14 = _round_errors(scored, FOURTEENTH_ROUND_IDS)
    # transformers' BF16 decode latencies of Llama-3.1-8B on the H100 (batch 1, 8, 32) and Llama-2-13B's fp16 and
    # Marlin decode on the A100 at batch 1-8: host-bound eager steps, within 15%. bitsandbytes' 4-bit weights at batch
    # 8 and 32, dequantized into a 16-bit copy before each GEMM (history item 50): on the RTX 4090, where the copy's
    # traffic (about 28 GB a step) is above the host's floor, within 10% (-46% and -50% before item 50); on the H100,
    # where the host's floor binds (291 + 128 counted kernels with the copies' own), still 25-40% slower than
    # predicted (-30%, -32%; -51%, -52% before item 50)
    assert all(abs(rows14[f"M14A-{k}"]) <= 15.0 for k in (10, 13, 16, *range(44, 52)))
    assert all(abs(rows14[f"M14A-{k:02d}"]) <= 10.0 for k in (5, 8))
    assert all(-40.0 <= rows14[f"M14A-{k:02d}"] <= -25.0 for k in (14, 17))
    scored = scored[~fourteenth]  # the first thirteen rounds below
    # the thirteenth round, blind: 71 rows from 3 sources, all expressible
    thirteenth, round13 = _blind_round(table, scored, THIRTEENTH_ROUND_IDS, 71, 37, 34)
    assert 20.0 <= round13["phase:decode"]["median_abs_error_pct"] <= 40.0  # 30.2%
    assert 45.0 <= round13["phase:prefill"]["median_abs_error_pct"] <= 70.0  # 63.4% blind, 56.1% after item 43
    rows13 = _round_errors(scored, THIRTEENTH_ROUND_IDS)
    # NIM's Llama-3-8B throughputs at 1-16 clients within 10%; Ollama's gpt-oss-20b on the M3 Ultra predicted at
    # least 2x the measured rates (prompt and decode); NIM 1.0-1.1's TTFTs at 8 and 16 clients of 7,000-token prompts
    # still at least 55% fast after item 43 (the measured wave runs its prompts one after another)
    assert all(abs(rows13[f"M13A-{k:02d}"]) <= 10.0 for k in range(1, 6))
    assert all(rows13[f"M13B-{k:02d}"] >= 100.0 for k in range(1, 11))
    assert all(rows13[f"M13A-{k}"] <= -55.0 for k in (14, 15, 24, 25, 44, 45))
    scored = scored[~thirteenth]  # the first twelve rounds below
    # the twelfth round, blind: 62 rows from 3 sources, all expressible
    twelfth, round12 = _blind_round(table, scored, TWELFTH_ROUND_IDS, 62, 23, 39)
    assert 6.0 <= round12["phase:decode"]["median_abs_error_pct"] <= 20.0  # 12.1%
    assert 18.0 <= round12["phase:prefill"]["median_abs_error_pct"] <= 35.0  # 25.9% (44.0% blind, before item 50)
    twelfth_rows = {str(i): (str(h), str(m), float(e)) for i, h, m, e in zip(
        scored["id"], scored["holdout"], scored["metric"], scored["error_pct"], strict=True)
        if str(i).startswith(TWELFTH_ROUND_IDS)}
    # TinyChat's batch-1 decode latencies within 21% (22.1% since history item 100's Ampere refit; within 16% on
    # vLLM's profile, whose Marlin rating, 0.7, slowed
    # the A100's one-row GEMMs; TinyChat's own profile rates its kernels as the device's GEMMs: -16% and -20% there);
    # of its sweep's 4-bit prompts on the RTX 4090, llama.cpp's within 10% (20-32% slow since history item 99: the
    # bound on its MMQ GEMMs, 260 multiply-accumulates per SM and clock, lies below the rate these runs reached, about
    # 250 for the whole step) and TinyChat's own within 30% (its W4A16 GEMM accumulates in FP16: history item 50;
    # +152..+183% on vLLM's profile, blind); the gpt-fast fp16 prompts all predicted faster than measured
    tiny = [(m, e) for h, m, e in twelfth_rows.values() if h == "mit-han-lab-tinychat-benchmark"]
    assert len(tiny) == 41 and all(abs(e) <= 23.0 for m, e in tiny if m == "tpot")
    assert all(15.0 <= twelfth_rows[f"M12A-{k}"][2] <= 35.0 for k in range(32, 37))  # llama.cpp
    assert all(abs(twelfth_rows[f"M12A-{k}"][2]) <= 30.0 for k in range(10, 16))  # TinyChat on the RTX 4090
    assert all(e < 0.0 for h, m, e in twelfth_rows.values() if h == "mayank31398-gptfast-ladderbench" and m == "ttft")
    scored = scored[~twelfth]  # the first eleven rounds below
    # the eleventh round, blind: 30 rows from 3 sources, all expressible
    eleventh, round11 = _blind_round(table, scored, ELEVENTH_ROUND_IDS, 30, 14, 16)
    assert 25.0 <= round11["phase:decode"]["median_abs_error_pct"] <= 45.0  # 33.9%
    assert 15.0 <= round11["phase:prefill"]["median_abs_error_pct"] <= 35.0  # 26.8% (17.9% since history item 99)
    eleventh_rows = {str(i): (str(h), float(e)) for i, h, e in zip(
        scored["id"], scored["holdout"], scored["error_pct"], strict=True) if str(i).startswith(ELEVENTH_ROUND_IDS)}
    # llama.cpp on one M3 Ultra: every row within 20%; Trainium2 on one chip: Llama-3.1-8B's and Qwen3-32B's TPOTs
    # predicted at least twice the measured (the 2024 Neuron stacks' step costs); its MoE models' TTFTs (Qwen3-30B-A3B
    # on one chip, Llama-4 Maverick and Scout and Qwen3-235B on 16) 75% or more fast
    assert [abs(e) <= 20.0 for h, e in eleventh_rows.values() if h == "geerlingguy-llamacpp-llamabench"] == [True] * 6
    assert eleventh_rows["M11B-02"][1] >= 100.0 and eleventh_rows["M11B-17"][1] >= 100.0
    assert all(eleventh_rows[i][1] <= -75.0 for i in ("M11B-04", "M11B-07", "M11B-10", "M11B-13"))
    scored = scored[~eleventh]  # the first ten rounds below
    tenth, round10 = _blind_round(table, scored, TENTH_ROUND_IDS, 160, 93, 67)
    assert 4.0 <= round10["phase:decode"]["median_abs_error_pct"] <= 15.0
    assert 3.0 <= round10["phase:prefill"]["median_abs_error_pct"] <= 15.0
    tenth_rows = [(str(i), str(h), str(m), float(e), float(x), float(lo), float(hi)) for i, h, m, e, x, lo, hi in zip(
        scored["id"], scored["holdout"], scored["metric"], scored["error_pct"], scored["measured"],
        scored["predicted_low"], scored["predicted_high"], strict=True) if str(i).startswith(TENTH_ROUND_IDS)]
    # France Travail's vLLM on A100s: every row inside its band as predicted blind; 105 of 110 with the bands of history
    # item 45 (one-device served cells; five TTFTs 35-40% fast fall just outside); the median within 10%
    france = [r for r in tenth_rows if r[1] == "francetravail-vllm-benchllmserving"]
    assert len(france) == 110 and sum(min(lo, hi) <= x <= max(lo, hi) for *_, x, lo, hi in france) >= 100
    assert np.median([abs(r[3]) for r in france]) <= 10.0
    # its multi-client TTFTs read as waves (item 37): within 20%, but for the chunked-prefill run (M10A-63, -65)
    waves = {"M10A-19", "M10A-21", "M10A-41", "M10A-43", "M10A-85", "M10A-87", "M10A-107", "M10A-109"}
    assert sorted(abs(r[3]) <= 20.0 for r in tenth_rows if r[0] in waves) == [True] * 8
    # ik_llama.cpp's repacked CPU kernels: every prompt rate above the prediction; DJL on Inferentia2: too fast
    ik = [r[3] for r in tenth_rows if r[1] == "ubergarm-iklamacpp-llamabench" and r[2] == "prefill_throughput"]
    djl = [r[3] for r in tenth_rows if r[1] == "aws-samples-fmbench-djlneuron"]
    assert len(ik) == 10 and max(ik) < 0.0 and len(djl) == 27 and max(djl) < -40.0
    scored = scored[~tenth]  # the first nine rounds below
    ninth = np.array([str(i).startswith(NINTH_ROUND_IDS) for i in scored["id"]])
    assert sum(str(i).startswith(NINTH_ROUND_IDS) for i in table["id"]) == 114
    round9 = v.summarize(scored[ninth])
    assert round9["phase:decode"]["n"] == 55 and round9["phase:prefill"]["n"] == 59
    assert 15.0 <= round9["phase:decode"]["median_abs_error_pct"] <= 35.0  # 28.6% (16.9% before history item 83)
    groups9 = np.array([str(h) for h in scored["holdout"]])
    rest9 = v.summarize(scored[ninth & (groups9 != "amd-rocmblogs-llamacpp-llamabench")])
    assert rest9["phase:prefill"]["n"] == 29 and rest9["phase:prefill"]["median_abs_error_pct"] <= 30.0
    # llama.cpp's prompts on 8 MI300X: every one predicted at least 1.8x the measured rate (its HIP kernels; 1.9x
    # before history item 38 refitted the AMD family's step costs)
    hip = [e for i, e, m in zip(scored["id"], scored["error_pct"], scored["metric"], strict=True)
           if str(i).startswith("M9B-") and int(str(i)[4:]) <= 39 and m == "prefill_throughput"]
    assert len(hip) == 30 and min(hip) >= 75.0
    # Azure's offline MI300X throughputs with 10 scheduler steps (item 33): too fast, no longer too slow (25-85% with
    # item 33 alone, 15-62% with the MI300X's measured GEMM fraction, item 34, -8% to +54% once V0's whole-prompt
    # steps apart from decode run, item 35: the rows state chunked prefill off; -38% to +49% once those prompt steps
    # run eagerly, item 41: the two runs of 128 + 128 tokens, M9B-55 and -61, become 30-38% slow, as fully eager runs;
    # +29% to +49% since item 83 made the 16 offline runs the engine holds at once one wave, every prompt first and
    # then every decode together: they now agree with the two it cannot hold, +34% and +49%, as they had not, -33% to
    # +28%, under the steady state's prefill steps between the decodes)
    azure = [e for i, e in zip(scored["id"], scored["error_pct"], strict=True)
             if str(i).startswith("M9B-") and int(str(i)[4:]) >= 55]
    assert len(azure) == 18 and all(25.0 <= e <= 50.0 for e in azure) and np.median(azure) >= 30.0
    scored = scored[~ninth]  # the first eight rounds below
    eighth = np.array([str(i).startswith(EIGHTH_ROUND_IDS) for i in scored["id"]])
    assert sum(str(i).startswith(EIGHTH_ROUND_IDS) for i in table["id"]) == 116
    round8 = v.summarize(scored[eighth])
    assert round8["phase:decode"]["n"] == 74 and round8["phase:prefill"]["n"] == 36
    # 13.9% and 16.4% (14.9% and 16.1% before Hopper's balanced tiles, history item 48; 19.2% and 15.7% blind)
    assert 10.0 <= round8["phase:decode"]["median_abs_error_pct"] <= 25.0
    assert 10.0 <= round8["phase:prefill"]["median_abs_error_pct"] <= 22.0
    # the splitwise TPOTs at TP 4 and 8: a step that does not shrink with TP (host-bound), predicted 40-65% fast
    split = [e for i, e in zip(scored["id"], scored["error_pct"], strict=True) if i in
             ("M8A-26", "M8A-27", "M8A-29", "M8A-30")]
    assert len(split) == 4 and all(-70.0 <= e <= -35.0 for e in split)
    scored = scored[~eighth]  # the first seven rounds below
    seventh = np.array([str(i).startswith(SEVENTH_ROUND_IDS) for i in scored["id"]])
    assert sum(str(i).startswith(SEVENTH_ROUND_IDS) for i in table["id"]) == 48
    newest_round = v.summarize(scored[seventh])
    assert newest_round["phase:decode"]["n"] == 31 and "phase:prefill" not in newest_round
    assert 5.0 <= newest_round["phase:decode"]["median_abs_error_pct"] <= 20.0  # 7.4% (16.0% before item 38)
    scored = scored[~seventh]  # the first six rounds below
    groups = np.array([str(h) for h in scored["holdout"]])
    sixth = np.array([str(i).startswith(SIXTH_ROUND_IDS) for i in scored["id"]])
    second, third = np.isin(groups, list(SECOND_ROUND)), np.isin(groups, list(THIRD_ROUND)) & ~sixth
    fourth, fifth = np.isin(groups, list(FOURTH_ROUND)), np.isin(groups, list(FIFTH_ROUND))
    first, later, last, moe, newest, sixth_round = (
        v.summarize(scored[m]) for m in (~(second | third | fourth | fifth | sixth), second, third, fourth, fifth,
                                         sixth))
    assert sixth_round["phase:decode"]["n"] == 85 and sixth_round["phase:prefill"]["n"] == 37
    assert 12.0 <= sixth_round["phase:decode"]["median_abs_error_pct"] <= 25.0
    assert 30.0 <= sixth_round["phase:prefill"]["median_abs_error_pct"] <= 48.0
    assert first["phase:decode"]["n"] == 51 and first["phase:prefill"]["n"] == 41
    # 35.4% since history item 75 gave early-2025 engines' DeepSeek layers their kernels (49.8% before)
    assert 30.0 <= first["phase:decode"]["median_abs_error_pct"] <= 45.0
    assert first["phase:decode"]["median_signed_error_pct"] < -30.0
    assert 70.0 <= first["phase:prefill"]["median_abs_error_pct"] <= 90.0
    assert later["phase:decode"]["n"] == 64 and later["phase:prefill"]["n"] == 33
    assert 15.0 <= later["phase:decode"]["median_abs_error_pct"] <= 27.0
    # 61.5% before history item 47 read augmxnt's re-sent prompts as prefix-cache hits (23.2% after)
    assert 15.0 <= later["phase:prefill"]["median_abs_error_pct"] <= 35.0
    assert last["phase:decode"]["n"] == 76 and last["phase:prefill"]["n"] == 72  # 64 before finite runs
    # 39.2% and 28.1% since history item 75 (55.5% and 47.9% before; decode 71.8% before item 31, eager runs)
    assert 30.0 <= last["phase:decode"]["median_abs_error_pct"] <= 50.0
    assert 20.0 <= last["phase:prefill"]["median_abs_error_pct"] <= 40.0
    assert moe["phase:decode"]["n"] == 58 and moe["phase:prefill"]["n"] == 58
    assert 14.0 <= moe["phase:decode"]["median_abs_error_pct"] <= 28.0  # 18.5% (26.8% before history item 38)
    assert moe["phase:decode"]["median_signed_error_pct"] < 0.0  # still too fast
    assert 35.0 <= moe["phase:prefill"]["median_abs_error_pct"] <= 50.0  # 63.7% before SGLang's eager prompt steps
    # 148 before qwen2.5-32b, 159 before history item 42 left dennislee22's 22 rows across nodes out
    assert newest["phase:decode"]["n"] == 137 and newest["phase:prefill"]["n"] == 30
    # 43.9% before ATOM's profile, 21.3% before item 42, 15.0% now
    assert 10.0 <= newest["phase:decode"]["median_abs_error_pct"] <= 30.0
    # item 42: the rows across nodes over an undescribed network are not expressible; the rows without peer-to-peer
    # access run their collectives through host memory, still too fast (-45% to -15%, median -29.8%; -35.2% since
    # history item 100's Ampere refit)
    cross = [str(i) for i, n in zip(table["id"], table["not_expressible"], strict=True)
             if "network the row does not describe" in str(n)]
    assert cross == [f"M5NDL-{k:02d}" for k in (*range(1, 13), *range(72, 82))]
    no_p2p = [e for i, e in zip(scored["id"], scored["error_pct"], strict=True)
              if str(i).startswith("M5NDL-") and 13 <= int(str(i)[6:]) <= 35]
    assert len(no_p2p) == 23 and max(no_p2p) < 0.0 and -37.0 <= np.median(no_p2p) <= -25.0
    assert 15.0 <= newest["phase:prefill"]["median_abs_error_pct"] <= 30.0  # 68.0% before
    mlx = [e for g, e in zip(groups, scored["error_pct"], strict=True) if g == "raullenchai-rapidmlx-communitybench"]
    assert len(mlx) == 18 and max(abs(e) for e in mlx) <= 25.0
    # (llama.cpp's pull-request prompt rates on the RTX 4090: within 25%, within 27% since history item 99 bound the
    # MMQ GEMMs per SM and clock)
    prompts = [e for g, e in zip(groups, scored["error_pct"], strict=True) if g == "ggml-llamacpp-prs-llamabench"]
    assert len(prompts) == 22 and max(abs(e) for e in prompts) <= 27.0
    exllama = [e for i, e in zip(table["id"], table["error_pct"], strict=True) if i.startswith("EXLB")
               and abs(e) < 10]
    assert len(exllama) == 6  # the six decode rates (the three prompt rates: -18..+11% since history item 50)


TAILS = DATA.parent / "tails.csv"
TAILS_SHA256 = "9ee6ddd131f79aef9747bb99761a94bb8798a9f2dc84f8bff97f2e4866f9000d"


@pytest.fixture(scope="module")
def tails(rows, fits):
    """The published P90 and P99 figures of served runs whose medians or means the other files hold (history item
    55), each predicted out of sample: with the fit that left out its source where ``measured.csv`` has it."""
    assert hashlib.sha256(TAILS.read_bytes()).hexdigest() == TAILS_SHA256, (
        "validation/tails.csv changed: re-run 'genmodel validate --calibrate --write', update the figures in "
        "docs/validation.md ('Tail percentiles') and this file, then TAILS_SHA256")
    return v.held_out_apply(v.load_rows(TAILS), rows, fits)


def test_tail_percentiles_of_served_runs(tails, pooled):
    # 1,209 rows gathered blind (the thirty-eighth session), 1,039 expressible, from 20 sources; predicted once with
    # the model of c3aa844 before any band was made from them. The model's tails (its queueing and chunked-prefill
    # spread) against the published ones: end-to-end and per-request TPOT hold up, TTFT's P99 and the inter-token
    # gaps do not. Blind, the P99 TTFTs were 70.0% off (median signed -61.3%); with a finite run's first wave in its
    # upper percentiles (history item 56, seen rows) 66.0% (-49.9%); the other figures are unchanged. With a mixed
    # step's queries read once (history item 61): e2e P90 15.3 -> 15.2, TPOT P90 23.9 -> 24.1, TTFT P90 52.2 -> 51.9,
    # TTFT P99 66.0 -> 65.4, ITL P90 77.2 -> 76.7 (the others as they were); with the open loop solved between its
    # grid's nodes (history item 62): TPOT P90 23.9, TTFT P90 51.7, TTFT P99 65.2, ITL P90 60.7; with a closed
    # loop's life priced on its time-average step (history item 64): e2e P90 15.2 -> 14.9, e2e P99 18.8 -> 19.7,
    # TPOT P90 23.9 -> 24.0, TTFT P99 65.2 -> 64.6; with the running count's share of the TPOT spread taken as the
    # step's rise to the count's p99 (history item 65): e2e P90 14.9 -> 14.0, TPOT P90 24.0 -> 21.6, TPOT P99 30.4 ->
    # 28.4; with the prompt chunks' share taken as the mean step's rise to their quantile (history item 66): TPOT P99
    # 28.4 -> 28.0; with the chunk count's skew in its quantile and the end-to-end latency's TPOT part kept normal
    # (history item 67): TPOT P90 21.6 -> 21.8 (its p99's skew term, scaled to the p90 by z, overstates the p90's);
    # with the echo of a request's prompt steps in its decode steps (history item 68): TPOT P90 21.84 -> 21.86; with a
    # closed loop's step variance bounded (history item 69): e2e P90 14.00 -> 14.06; with the TPOT's upper quantile at
    # the joint quantile of the decoding count and the prompt chunks under the arrivals' feedback (history item 70:
    # 72 rows of open loops with mixed steps move, their spread wider, most of them IOG's vLLM runs, whose mean TPOTs
    # are already 20-100% long): e2e P90 14.06 -> 14.90, TPOT P90 21.86 -> 22.41, TPOT P99 27.96 -> 29.40
    s = v.summarize(tails)
    assert sum(s[f"tail:{m}"]["n"] for m in v.rows.TAIL_METRICS) == 1039
    assert len({r["holdout"] for r in tails.rows()}) == 20
    # with early-2025 engines' DeepSeek kernels (history item 75: dstack's 72 rows of SGLang 0.4.2 and vLLM 0.7.3
    # move): e2e P99 19.7 -> 17.8, TPOT P99 29.4 -> 28.0, TTFT P99 64.6 -> 64.4, ITL P99 51.1 -> 46.4; with a queued
    # run's percentiles mixed over its places (fifty-sixth session, docs/serving.md section 3: 17 rows move): e2e P90
    # 14.9 -> 13.9, TTFT P90 51.7 -> 51.4; with the streaming and intake settings InferenceX's launch scripts pass
    # (history item 80: 238 rows of SGLang and TensorRT-LLM on B200, B300 and H200 state them; their clients time
    # chunks of 10 or 30 tokens, and SGLang takes new requests in every 10 decode steps): ITL P90 60.7 -> 18.5, ITL
    # P99 46.4 -> 39.0, TTFT P90 51.4 -> 50.0, TTFT P99 64.4 -> 64.1 (signed -49.9 -> -49.5); with a run of one wave
    # (history item 81: six rows of dennislee22's bursts of 50 and 200 prompts move): TPOT P99 28.0 -> 27.7, ITL
    # P99 39.0 -> 36.2; with a finite run at a rate as a slow wave (history item 82: 48 rows of IOG's runs of 200
    # prompts move): TPOT P90 22.4 -> 21.2, TPOT P99 27.7 -> 26.9 (TTFT P99 signed -49.5 -> -49.9); with the wave's
    # own wait for prompts that come as they arrive, their TTFT percentiles the steady state's moved to it (history
    # item 83: IOG's 40 TTFT tails of runs of 200 move): TTFT P90 50.0 -> 49.2, TTFT P99 64.1 -> 63.8 (signed -49.9 ->
    # -49.5); with the prompts' chain and the decodes' share of them in a finite run past saturation (history item 84:
    # 26 rows move, LLMServingSim's and IOG's runs of 200-300): TPOT P90 21.2 -> 20.5, TPOT P99 26.9 -> 27.0; with
    # history item 99's refit (the Hopper GEMM fraction 0.655 -> 0.728, Ampere's 0.728 -> 0.809): TPOT P90 20.5 ->
    # 19.5, TPOT P99 27.0 -> 26.7, TTFT P90 49.2 -> 45.0, TTFT P99 63.8 -> 62.3, ITL P90 18.5 -> 17.2, ITL P99 36.2 ->
    # 36.4; with history item 100 (llama.cpp's streams bound per SM and clock, and the Ampere family's HBM fraction
    # refit 0.809 -> 0.872, which its 59 A100 vLLM gaps, already short, follow): ITL P99 36.4 -> 38.7
    expected = {"e2e_latency_p90": 13.9, "e2e_latency_p99": 17.8, "tpot_p90": 19.5, "tpot_p99": 26.7,
                "ttft_p90": 45.0, "ttft_p99": 62.3, "itl_p90": 17.2, "itl_p99": 38.65}
    for metric, median in expected.items():
        assert s[f"tail:{metric}"]["median_abs_error_pct"] == pytest.approx(median, abs=0.06), metric
    assert s["tail:ttft_p99"]["median_signed_error_pct"] == pytest.approx(-49.5, abs=0.06)
    # the served rows' cells (made from medians and means) cover these tails in 62.7% of rows (63.1% before history
    # item 70, 63.2% before item 66, 62.9% before item 65, 62.7% before item 62, 62.4% before item 61; 61.7% blind),
    # below 70%, which is
    # why the tails have cells of their own
    cells = bands.make_bands(pooled[0], served=True)
    hits, per_source = [], {}
    for r in tails.rows():
        b = uncertainty.lookup(cells, r["kind"], r["engine"], r["group"], uncertainty.scale_of(r["replica_devices"]))
        ok = b.low <= float(np.log1p(r["error_pct"] / 100.0)) <= b.high
        hits.append(ok)
        per_source.setdefault(r["holdout"], []).append(ok)
    # (60.2% since history item 75, whose SGLang 0.4 rows narrowed the served cells; 61.8% with the nineteenth
    # independent round's served rows in the cells; 62.2% with history item 77's thin cells joined with their
    # parents; 64.2% with the twentieth round's served rows; 62.0% since the fifty-fifth session gave 46 served rows
    # their runs' published request lengths; 62.1% with a queued run's percentiles mixed over its places; 66.0% with
    # InferenceX's stated streaming and intake settings, history item 80; 69.1% with the twenty-fourth round's served
    # rows in the cells, whose DeepSeek-R1 TTFTs, 68-98% fast, widen the served prefill cells of 5+ devices; 70.3%
    # with the twenty-fifth round's, whose Qwen3-32B TPOTs, +12% to +262%, widen the decode cells of 2-4 and 5+ devices;
    # 70.7% with a run of one wave, history item 81, whose TPOTs of those runs are -12% to +100%; 69.9% with a finite
    # run at a rate as a slow wave, history item 82, whose DeepSeek-R1 throughputs and IOG's TPOTs come nearer and so
    # narrow the served cells again; 73.6% with waves on separate prefill steps, history item 83, whose SGLang TPOTs
    # of DeepSeek come nearer and vLLM 0.5.4's bursts and Azure's offline MI300X runs go further (wider cells); 73.8%
    # with the prompts' chain in a finite run past saturation, history item 84, whose DeepSeek-R1 TPOTs at 30,000
    # prompt tokens go further. So the medians' cells, widened by two rounds of badly predicted served runs, reach
    # about 70% of the tails; the tails keep cells of their own, which cover them at 81.1% and follow each tail
    # metric's own spread; 73.5% with the twenty-eighth round's served rows, whose Thor TTFTs at eight clients, 32-69%
    # fast, join the cells; 78.6% with the thirtieth round's, whose vLLM runs on eight RTX 5090s are predicted twice
    # too slow (gpt-oss-20b's replicas) and five to seven times too fast (gpt-oss-120b at TP 4 over PCIe) and widen
    # the served cells of one and of two to four devices; 80.4% since history item 99; 80.1% with the thirty-fourth
    # round's served rows and history item 100; 78.7% with the thirty-sixth round's, whose vLLM and llama.cpp servers
    # on one H100 or RTX 3090, mostly within 25%, narrow the served cells of one device; 79.2% with the
    # thirty-seventh's DeepSeek-R1 TPOTs on eight B200s, 63-89% fast, in the served decode cells of 5+ devices; 79.0%
    # with the thirty-eighth's gpt-oss-20b runs on one DGX Spark; 79.9% with the thirty-ninth's TGI runs at TP 8;
    # 79.6% with the fortieth's vLLM runs on one L4; 80.0% with the forty-third's Gaudi3 and MI300X runs)
    assert len(hits) == 1039 and np.mean(hits) == pytest.approx(0.800, abs=0.001)
    # per source 74.8% with the twenty-sixth round (one of the five tails of vllm-ascend-tutorials, 3 of 5 covered
    # before, 2 now: its thin cell takes a parent's band, which the round's served SGLang rows moved; 73.8% of the
    # rows as before), 75.8% with item 84, 75.6% with item 83, 72.4% with item 82, 72.8% with item 81, 72.6% with the
    # twenty-fifth round, 71.0% with the twenty-fourth (below 70% before them); 72.3% with the twenty-eighth, 75.4%
    # with the thirtieth, 76.0% since history item 99, 75.9% with the thirty-fourth round and history item 100, 77.6%
    # with the thirty-fifth round's served SGLang rows of gpt-oss-20b on one H100 (80.1% of the rows as before), 77.0%
    # with the thirty-sixth round's, 77.2% with the thirty-seventh's, 74.7% with the thirty-eighth's, 75.1% with the
    # thirty-ninth's, 74.9% with the fortieth's, 79.4% with the forty-third's (its Gaudi3 TTFTs, 91% fast, widen the
    # served prefill cells that several sources' P90 and P99 TTFTs fell below)
    assert np.mean([np.mean(h) for h in per_source.values()]) == pytest.approx(0.794, abs=0.001)
    # most of a tail's error is its run's: against the same model's error on the twin row (the run's median or mean
    # in independent.csv: 1,004 of the rows), the tail-to-median ratio is off by a median 4.03% for TPOT P99
    # (so with history item 70 too, whose 33 moved TPOT P99 rows' ratios go from 15.0% to 13.5% off; 4.06% before
    # history item 67, 3.75% before item 66, 4.3% before item 65, 4.4% before item 62), 11.4% for
    # end-to-end P99, 17.0% for TTFT P99 (17.3% before item 62, 22.0% blind) and 27.5% for ITL P99 (27.4% before
    # history item 61)
    twin_of = {r["id"]: re.match(r"twin of (\S+)", r["notes"]).group(1) for r in v.load_rows(TAILS)}
    independent = {r["id"] for r in v.load_rows(INDEPENDENT)}
    twin_error = {r["id"]: r["error_pct"] for r in pooled[0].rows() if r["id"] in independent}
    ratios: dict[str, list[float]] = {}
    for r in tails.rows():
        twin = twin_of[r["id"]]
        if twin in twin_error:
            ratio = (1 + r["error_pct"] / 100) / (1 + twin_error[twin] / 100)
            ratios.setdefault(r["metric"], []).append(abs(ratio - 1))
    assert sum(len(x) for x in ratios.values()) == 1004
    # (with history item 75: end-to-end P99 11.4% -> 11.7%; with item 80's stated streaming and intake settings:
    # TPOT P99 4.03% -> 4.06%, end-to-end P99 11.7% -> 11.6%, TTFT P99 17.0% -> 16.3%, ITL P99 27.5% -> 16.9%; with item
    # 81's run of one wave: TPOT P99 4.06% -> 3.93%, ITL P99 16.9% -> 14.7%; with item 82's slow wave: TPOT P99
    # 3.93% -> 3.86%, TTFT P99 16.3% -> 16.8%; with item 83's waves on separate prefill steps and the wave's own
    # wait for prompts that come as they arrive: TPOT P99 3.86% -> 3.93%, TTFT P99 16.8% -> 16.7%, ITL P99 14.7% ->
    # 14.8%; with history item 99's refit: TPOT P99 3.93% -> 3.75%, TTFT P99 16.7% -> 16.3%, ITL P99 14.8% -> 15.5%;
    # with history item 100's: TPOT P99 3.75% -> 3.81%, ITL P99 15.5% -> 14.9%)
    for metric, median in (("tpot_p99", 3.81), ("e2e_latency_p99", 11.64), ("ttft_p99", 16.30), ("itl_p99", 14.88)):
        assert 100 * np.median(ratios[metric]) == pytest.approx(median, abs=0.06), metric


def test_tail_percentile_bands_out_of_sample(tails):
    # nested: each source's tail rows against tail cells made from the other sources only; measured 81.1% of 1,039 rows,
    # 84.6% averaged over 20 sources (80.8% and 84.5% before history item 82's slow wave; 82.5% and 84.9% before
    # history item 81, whose run of one wave brings six of
    # dennislee22's P99 TPOTs and gaps nearer and so narrows the cells that hold them;
    # 79.7% and 85.4% before history item 80, 79.9% and 85.5% before item 75, 80.4% and
    # 85.6% before item 70, 80.5% and 85.6% before item 67, 80.4% and 85.6% before item 66, 80.6% and 85.7% before item
    # 65, 80.9% and 85.7% before item 64; 80.6% and 85.6% before history item 62; 80.8% and 86.2% blind, before item
    # 56); per tail metric 73% (TPOT P90) to 89% (end-to-end P90) where the metric's rows come from at least
    # MIN_SOURCES sources. The inter-token gap's P90 comes from three (72 rows): with no P90 cell of its own it takes
    # the ITL P99's band, wider (``uncertainty.tail_lookup``, saying so), and covers 83.3% of them (98.6% from history
    # item 80, which brought InferenceX's chunked gaps, -88% to -96% off before, within a median 3%, to item 81, whose
    # nearer ITL P99s of dennislee22's bursts narrowed that band; within 70-90% before item 80)
    cov = bands.coverage(tails, tails=True)
    assert cov["rows"] == 1039 and cov["groups"] == 20
    assert 0.70 <= cov["row_coverage"] <= 0.90 and 0.70 <= cov["group_coverage"] <= 0.90
    assert set(cov["by_phase"]) == set(v.rows.TAIL_METRICS)
    sources: dict[str, set] = {}
    for r in tails.rows():
        sources.setdefault(r["metric"], set()).add(r["holdout"])
    standing = {m for m, groups in sources.items() if len(groups) >= uncertainty.MIN_SOURCES}
    assert standing == set(v.rows.TAIL_METRICS) - {"itl_p90"}
    assert all(0.70 <= cov["by_phase"][m] <= 0.90 for m in standing), cov["by_phase"]
    assert cov["by_phase"]["itl_p90"] >= 0.70  # (a borrowed, wider band: 83.3%)
    # the bands serve gives its P99 figures are these cells: a served P99 TTFT's band is the stored tail cell's
    from genmodel.engine.uncertainty import band

    served = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=4.0)
    cell = band("gpu", "vllm", "ttft_p99", devices=1, tails=True)
    assert "ttft_p99" in cell.basis
    assert float(served.metrics["ttft_p99_s_high"]) == pytest.approx(
        float(served.metrics["ttft_p99_s"]) * np.exp(-cell.low))


def test_rows_of_a_fitted_source_are_predicted_with_the_fit_that_left_it_out(rows, held_out, fits):
    # held_out_apply predicts another file's rows of a source the fit saw with the fit made without that source:
    # given measured.csv's own rows of two sources, it gives leave_one_source_out's predictions of them exactly
    groups = {"gpustack-perflab-benchserve", "qwen-vllm-speedbenchmark"}
    mine = [r for r in rows if v.holdout_group(r) in groups]
    assert mine
    got = {r["id"]: r["predicted"] for r in v.held_out_apply(mine, rows, fits).rows()}
    want = {r["id"]: r["predicted"] for r in held_out.rows() if r["id"] in got}
    assert got and got == want
    # (Qwen's 51 static rows are fitted on: left out, the A100's fit moves, so the two predictions differ)
    full = {r["id"]: r["predicted"] for r in v.apply(mine, fits).rows()}
    assert any(full[k] != got[k] for k in got if k.startswith("QWENVS-"))
    # and a row of a source the fit never saw gets the fit on all rows
    other = [r for r in v.load_rows(INDEPENDENT) if v.holdout_group(r) == "iog-vllm-benchserve"][:3]
    assert [r["predicted"] for r in v.held_out_apply(other, rows, fits).rows()] == \
        [r["predicted"] for r in v.apply(other, fits).rows()]
