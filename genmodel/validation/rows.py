"""Measurement rows: read a measurements CSV and map each row to the arguments of one ``estimate`` call.

Contract
--------
``load_rows(path)`` reads a CSV with the columns ``COLUMNS`` (those of ``validation/measured.csv``; extra
columns are kept) and returns one dict per row, every value the cell's text. A file that cannot be read as such a
table raises ``SpecError`` with one readable sentence: missing, a folder, larger than ``MAX_BYTES``, not UTF-8
text, binary, empty, a header without rows, columns missing or named twice, malformed quoting, a row with more or
fewer fields than the header, more than ``MAX_ROWS`` rows.

``parse_row(row)`` maps one row to a ``Case`` (the ``estimate`` arguments, the estimate key to compare, the
unit scale and the measured value) or raises ``NotExpressibleError`` with the reason. The vocabulary is strict and
documented (docs/validation.md): genmodel model and hardware names, ``weights/activations/kv`` datatypes, whole
numbers >= 1 for batch, lengths and parallel degrees, one of ``METRICS`` in a unit of ``UNITS`` that matches
the metric, and a finite measured value > 0. What the engine itself refuses (a context longer than the
model's, a layout that does not divide the model) is found when the row is predicted, with the engine's message.
The ``interconnect`` text is read for two statements (``stated_link``): devices without peer-to-peer access run
their collectives through host memory over the device's ``host_link``, and devices on several nodes over a
network the row does not describe make the row not expressible.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genmodel.data.registry import SPEC_SUFFIXES, get_engine, get_hardware, get_model
from genmodel.engine.memo import IdentityCache
from genmodel.engine.uncertainty import architecture_of
from genmodel.errors import GenmodelError, InputTypeError, SpecError
from genmodel.specs.files import exists
from genmodel.specs.hardware import HardwareSpec, Interconnect

COLUMNS = ["id", "source", "model", "dtype", "hardware", "num_devices", "interconnect", "system",
           "batch_or_concurrency", "input_len", "output_len", "tp", "pp", "ep", "metric", "value", "unit", "notes"]
# (tail metric name, estimate key of a static row, phase) of the served percentile metrics ``<name>_p90``, ``_p99``
TAILS = (("ttft", "ttft_s", "prefill"), ("tpot", "tpot_s", "decode"), ("itl", "tpot_s", "decode"),
         ("e2e_latency", "e2e_latency_s", "decode"))
TAIL_METRICS = tuple(f"{name}_p{q}" for name, _, _ in TAILS for q in (90, 99))
# metric -> (estimate key, group: the phase it measures, or energy)
METRICS = {
    "ttft": ("ttft_s", "prefill"), "prefill_throughput": ("prefill_tokens_per_s", "prefill"),
    "tpot": ("tpot_s", "decode"), "decode_rate_per_user": ("tokens_per_s_per_user", "decode"),
    "output_throughput": ("output_tokens_per_s", "decode"),
    "output_throughput_per_device": ("output_tokens_per_s_per_device", "decode"),
    "total_throughput": ("total_tokens_per_s", "decode"), "e2e_latency": ("e2e_latency_s", "decode"),
    "energy_per_output_token": ("energy_per_output_token_j", "energy"),
    # a served run's tail percentiles (across requests; ITL: across the gaps between tokens); a static batch or one
    # request in flight has no spread in the model, so there the figure itself
    **{f"{name}_p{q}": (key, phase) for name, key, phase in TAILS for q in (90, 99)},
}
# the metric classes of the report: TTFT, TPOT/ITL (per-user decode rate is 1 / TPOT), end-to-end latency,
# throughput (output, total or prefill tokens per second) and energy
METRIC_CLASS = {"ttft": "ttft", "tpot": "tpot", "decode_rate_per_user": "tpot", "e2e_latency": "e2e_latency",
                "output_throughput": "throughput", "output_throughput_per_device": "throughput",
                "total_throughput": "throughput", "prefill_throughput": "throughput",
                "energy_per_output_token": "energy",
                **{f"{name}_p{q}": "tpot" if name == "itl" else name for name, _, _ in TAILS for q in (90, 99)}}
# unit -> (factor to SI, dimension)
UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "tokens/s": 1.0, "J/token": 1.0}
_DIMENSION = {"s": "time", "ms": "time", "us": "time", "tokens/s": "rate", "J/token": "energy"}
_METRIC_DIMENSION = {"ttft": "time", "tpot": "time", "e2e_latency": "time", "energy_per_output_token": "energy",
                     **{f"{name}_p{q}": "time" for name, _, _ in TAILS for q in (90, 99)}}


def metric_dimension(metric: str) -> str:
    """'time', 'rate' or 'energy': what a metric of the vocabulary measures (its units must be of that dimension; a
    time-oriented error negates a rate's, ``bands.residuals``, and inverts its ratio, ``predict.summarize``)."""
    return _METRIC_DIMENSION.get(metric, "rate")


MAX_BYTES = 50 * 2**20  # a measurements file larger than this is refused (the shipped one is about 0.2 MB)
MAX_ROWS = 100_000
_MAX_DIGITS = 15  # whole numbers in a row: far above any batch or length, exact in float64


class NotExpressibleError(GenmodelError, ValueError):
    """A row that genmodel cannot predict; the message is the reason, reported beside the row."""


@dataclass
class Case:
    """One row mapped to ``estimate`` arguments."""

    row: Mapping[str, str]
    kwargs: dict[str, Any]
    key: str  # the estimate metric compared with the measurement
    scale: float  # multiply the row's value by this to get SI units (a static ITL row of k-token streamed chunks: the
    # SI figure of k of the estimate's TPOTs, as its key is the TPOT)
    measured: float = math.nan  # the row's value, in the row's unit
    served: dict[str, Any] | None = None  # traffic for ``serve`` (continuous batching), None: ``estimate``
    # the share of device memory the row's ``system`` text gives the engine (vLLM's --gpu-memory-utilization,
    # SGLang's --mem-fraction-static), None where it states none (the engine's usual share)
    memory_fraction: float | None = None
    # the devices of one model replica: pp x the stage (ep under attention data parallelism, else tp), as
    # ``parse_row`` splits the row's devices; its device-count class picks the row's band cells
    # (``genmodel.engine.uncertainty.scale_of``)
    replica_devices: int = 1

    @property
    def metric(self) -> str:
        return self.row["metric"].strip()

    @property
    def group(self) -> str:
        """The phase the metric measures ('prefill', 'decode') or 'energy'."""
        return METRICS[self.metric][1]

    @property
    def metric_class(self) -> str:
        return METRIC_CLASS[self.metric]

    @property
    def engine(self) -> str:
        """The serving engine the row was measured with (its profile is used for the prediction)."""
        engine = self.kwargs["engine"]
        return engine if isinstance(engine, str) else engine.name

    @property
    def client_timed(self) -> bool:
        """Whether an HTTP client timed the row (``measured_at`` client: the request's trip through the server, chat
        template and tokenization are in its latencies)."""
        return _cell(self.row, "measured_at") == "client"

    @property
    def batching(self) -> str:
        """'served' when the row is predicted with the served-traffic model (``serve``), else 'static'."""
        return "static" if self.served is None else "served"

    @property
    def holdout(self) -> str:
        """The row's hold-out group for leave-one-source-out."""
        return holdout_group(self.row)

    @property
    def architecture(self) -> str:
        """'moe' when the row's model has mixture-of-experts layers, else 'dense' (``summarize`` reports the two
        apart: their errors differ, docs/validation.md history item 53)."""
        return architecture_of(self.kwargs["model"])


def _file_error(message: str) -> SpecError:
    """An error about the measurements file as a whole (the CLI names its --data option)."""
    return SpecError(message, "data")

def source_group(row_id: str) -> str:
    """The source group of a row id: its prefix before the last dash ('TRT05-03' -> 'TRT05')."""
    return str(row_id).rsplit("-", 1)[0]


def holdout_group(row: Mapping[str, str]) -> str:
    """The group a row is held out with: its ``group`` column (publisher-engine-harness: successive releases of
    one harness are one group), else its id prefix."""
    group = str(row.get("group") or "").strip()
    return group or source_group(row.get("id", ""))


# words in the free-text ``system`` column -> engine profile, for rows without an ``engine`` column; the first in
# this order wins (ATOM's benchmark client runs with ``--backend vllm``), and a word in ``_WHOLE_WORDS`` counts only
# as a whole word ("atom", not "atomic")
_ENGINE_WORDS = [("sglang-jax", "sgl-jax"), ("sgl-jax", "sgl-jax"), ("tensorrt", "trtllm"), ("trt-llm", "trtllm"),
                 ("nim", "trtllm"), ("sglang", "sglang"), ("lmdeploy", "lmdeploy"), ("turbomind", "lmdeploy"),
                 ("llama.cpp", "llamacpp"), ("llama-bench", "llamacpp"), ("ollama", "llamacpp"),
                 ("jetstream", "jetstream"), ("optimum-neuron", "optimum-neuron"), ("neuron", "neuron"),
                 ("optimum", "optimum-habana"), ("gaudi", "optimum-habana"), ("hpu", "optimum-habana"),
                 ("tgi", "tgi"), ("mlx", "mlx"),
                 ("awq gemv", "autoawq-gemv"), ("autoawq", "autoawq"), ("atom", "atom"), ("vllm", "vllm"),
                 ("cerebras", "vendor"), ("sambanova", "vendor"), ("groq", "vendor"),
                 ("exllamav2", "exllamav2"), ("exllama v2", "exllamav2"), ("exllama", "exllama"),
                 ("tinychat", "tinychat"), ("bitsandbytes", "transformers-bnb"),
                 ("hugging face transformers", "transformers")]


# words matched as a pattern: "atom" as a whole word; "tinychat" only where the system text starts with it (rows of
# other engines timed for TinyChat's comparison tables name it later: "MLC ... for the TinyChat 2.0 comparison")
_WHOLE_WORDS = {"atom": re.compile(r"(?<![a-z0-9])atom(?![a-z0-9])"), "tinychat": re.compile(r"^\s*tinychat\b")}


def engine_of(row: Mapping[str, str]) -> str | None:
    """The engine profile of a row: its ``engine`` column when genmodel has that profile, else one recognised in
    its ``system`` text, else None (the device's usual engine)."""
    from genmodel.data.registry import database

    known = database("engine").entries
    named = str(row.get("engine") or "").strip().lower()
    if named in known:
        return named
    if named in ("cerebras", "sambanova", "groq"):
        return "vendor"
    system = str(row.get("system") or "").lower()
    for word, engine in _ENGINE_WORDS:
        if engine in known and (word in system if word not in _WHOLE_WORDS else _WHOLE_WORDS[word].search(system)):
            return engine
    return None


# ---- reading the file ----------------------------------------------------------------------------

def _text(path: Path) -> str:
    """The file's text, or ``SpecError`` saying why it is not a readable text file."""
    if not exists(path):
        raise _file_error(f"measurements file {path} does not exist")
    try:
        folder = path.is_dir()
        size = path.stat().st_size
        if folder:
            raise _file_error(f"measurements file {path} is a folder; give a CSV file")
        if size > MAX_BYTES:
            raise _file_error(f"measurements file {path} is {size / 2**20:,.0f} MiB, more than the "
                            f"{MAX_BYTES / 2**20:.0f} MiB limit; split it into smaller files")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)  # a file that grows while read still stops at the limit
    except (OSError, ValueError) as exc:  # (ValueError: a NUL byte in the path)
        raise _file_error(f"cannot read measurements file {str(path)[:120]}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > MAX_BYTES:
        raise _file_error(f"measurements file {path} is larger than the {MAX_BYTES / 2**20:.0f} MiB limit; split it")
    if b"\x00" in data:
        raise _file_error(f"measurements file {path} is binary, not a CSV text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _file_error(f"measurements file {path} is not UTF-8 text (line {line}, byte {exc.start}); "
                        "save it as UTF-8 CSV") from None


def load_rows(path: str | Path) -> list[dict[str, str]]:
    """Read a measurements CSV: one dict per row (cell texts); ``SpecError`` when the file is not such a table."""
    path = Path(path)
    text = _text(path)
    if not text.strip():
        raise _file_error(f"measurements file {path} is empty; it needs a header line with the columns "
                        f"{', '.join(COLUMNS)} and one line per measurement (docs/validation.md)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    try:
        for record in reader:
            if not record or not any(cell.strip() for cell in record):
                continue  # blank line
            if header is None:
                header = _header(record, path)
                continue
            if len(record) != len(header):
                raise _file_error(f"measurements file {path} line {reader.line_num}: {len(record)} fields where the "
                                f"header has {len(header)}; quote a field that contains a comma")
            if len(rows) == MAX_ROWS:
                raise _file_error(f"measurements file {path} has more than {MAX_ROWS:,} rows; split it")
            rows.append(dict(zip(header, record, strict=True)))
    except csv.Error as exc:
        raise _file_error(f"measurements file {path} line {reader.line_num} is not valid CSV ({exc}); check its "
                        "quotes: a quoted field must end with a quote followed by a comma or the line end") from None
    if not rows:
        raise _file_error(f"measurements file {path} has no measurement rows, only a header")
    return rows


def _header(record: list[str], path: Path) -> list[str]:
    names = [name.strip() for name in record]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise _file_error(f"measurements file {path} names the column(s) {', '.join(map(repr, twice))} more than once")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise _file_error(f"measurements file {path} lacks the column(s) {', '.join(missing)} "
                        f"(the header needs: {', '.join(COLUMNS)}; see docs/validation.md)")
    return names


def as_rows(rows: Iterable[Mapping[str, str]] | Any) -> list[Mapping[str, str]]:
    """Rows as a list of mappings: from ``load_rows``, any iterable of dicts, or a ``Table`` (its ``rows()``)."""
    if hasattr(rows, "rows") and callable(rows.rows):
        return list(rows.rows())
    return list(rows)


# ---- one row -------------------------------------------------------------------------------------

def _cell(row: Mapping[str, str], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value).strip()


def _count(text: str, name: str) -> int:
    """A whole number >= 1, or ``NotExpressibleError`` saying what is wrong with it."""
    match = re.fullmatch(r"([+-]?)([0-9]+)", text)
    if not match:
        raise NotExpressibleError(f"{name} {text!r} is not a whole number")
    if len(match.group(2).lstrip("0")) > _MAX_DIGITS:
        raise NotExpressibleError(f"{name} {text} is too large (more than {_MAX_DIGITS} digits)")
    value = int(text)
    if value < 1:
        raise NotExpressibleError(f"{name} {value} must be at least 1")
    return value


def _measured(text: str) -> float:
    """The measured value: a finite number > 0 (a time, a rate or an energy)."""
    try:
        value = float(text)
    except ValueError:
        raise NotExpressibleError(f"value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise NotExpressibleError(f"value {text!r} is not a finite number")
    if value <= 0:
        raise NotExpressibleError(f"value {text} must be greater than 0 (a measured time, rate or energy)")
    if not 1e-9 <= value <= 1e12:  # (in its unit: ns to teraseconds, a billionth to a trillion tokens/s or J)
        raise NotExpressibleError(f"value {text} is outside 1e-9 to 1e12 (in its unit): no measurement is")
    return value


def _entry(getter, kind: str, name: str):
    if not name:
        raise NotExpressibleError(f"the row names no {kind}")
    if name.lower().endswith(SPEC_SUFFIXES):
        raise NotExpressibleError(f"{kind} {name!r} is a file name; a row names a genmodel {kind} entry")
    try:
        return getter(name)
    except GenmodelError as exc:
        raise NotExpressibleError(str(exc)) from None


def parse_row(row: Mapping[str, str]) -> Case:
    """Map a row to ``estimate`` arguments; ``NotExpressibleError`` (a ``ValueError``) with the reason otherwise."""
    if not isinstance(row, Mapping):
        raise InputTypeError(f"row must be a mapping of column names to cell texts, got {type(row).__name__}", "row")
    metric = _cell(row, "metric")
    if metric not in METRICS:
        raise NotExpressibleError(f"metric {metric!r} is not one genmodel predicts (one of: {', '.join(METRICS)})")
    unit = _cell(row, "unit")
    if unit not in UNITS:
        raise NotExpressibleError(f"unit {unit!r} is not one of {', '.join(UNITS)}")
    wanted = metric_dimension(metric)
    if _DIMENSION[unit] != wanted:
        units = [u for u, d in _DIMENSION.items() if d == wanted]
        raise NotExpressibleError(f"unit {unit!r} does not fit the metric {metric} (use {' or '.join(units)})")
    measured = _measured(_cell(row, "value"))
    model = _entry(get_model, "model", _cell(row, "model"))
    hw = stated_link(_entry(get_hardware, "hardware", _cell(row, "hardware")), _cell(row, "interconnect"))
    dtype = _cell(row, "dtype")
    parts = [p.strip() for p in dtype.lower().split("/")]
    if len(parts) != 3 or not all(parts):
        raise NotExpressibleError(f"dtype {dtype!r} is not weights/activations/kv (e.g. bf16/bf16/bf16)")
    inputs, outputs = _count(_cell(row, "input_len"), "input_len"), _count(_cell(row, "output_len"), "output_len")
    tp, pp, ep, devices = (_count(_cell(row, k) or "1", k) for k in ("tp", "pp", "ep", "num_devices"))
    attention_dp = ep > 1 and tp < ep
    stage = ep if attention_dp else tp
    if devices % (stage * pp):
        raise NotExpressibleError(f"{devices} devices are not a multiple of the {stage * pp}-device replica")
    from genmodel.engine.realism import default_engine_name

    engine = engine_of(row) or default_engine_name(hw)
    if engine == "vllm" and hw.kind == "tpu":
        engine = "vllm-tpu"  # the XLA backend: compiled buckets, not CUDA graphs
    if engine == "trtllm" and trtllm_pytorch(row):
        engine = "trtllm-pytorch"  # Python executor: prompt steps eager
    batching = _cell(row, "batching") or ("continuous" if _cell(row, "system").endswith("continuous") else "static")
    if batching not in ("static", "continuous"):
        raise NotExpressibleError(f"batching {batching[:40]!r} is neither 'static' nor 'continuous'")
    served = None
    if batching == "continuous" and METRICS[metric][1] != "energy":
        served = served_load(_cell(row, "batch_or_concurrency"))
        burst = served.get("request_rate") == "inf"  # (N prompts sent at once: N run, as offline)
        batch = served.get("concurrency", served.get("offline", served["num_requests"] if burst else 1))
        run = run_length(_cell(row, "system")) if "concurrency" in served else None
        if run is not None and run >= batch:  # a finite closed-loop run: its clients start at once
            served = {**served, "num_requests": run}
        if served.get("concurrency") == 1:
            served = None  # one request in flight never shares a step: the static batch of one (docs/validation.md)
    else:
        batch = _count(_cell(row, "batch_or_concurrency"), "batch")
    kwargs = {"model": model, "hardware": hw, "batch": batch, "input_tokens": inputs, "output_tokens": outputs,
              "weight_dtype": parts[0], "activation_dtype": parts[1], "kv_dtype": parts[2], "tp": tp, "pp": pp,
              "ep": ep, "dp": devices // (stage * pp), "attention_dp": attention_dp, "check_fit": False,
              "engine": _engine_as_run(engine, _cell(row, "system"),
                                       vllm_v0_scheduler(row, model, hw) if engine == "vllm" else
                                       sglang_kernels(row, model) if engine == "sglang" else None,
                                       release_of(_cell(row, "engine_version")))}
    fraction = memory_fraction_of(_cell(row, "system"))
    system = _cell(row, "system").lower()  # (the settings the row states, read below)
    if _CACHED_PROMPTS.search(system):
        if served is None:
            raise NotExpressibleError("prompts already in the prefix cache: only the served-traffic model "
                                      "(a continuous row with more than one client) reads a prefix-cache hit")
        served = {**served, "prefix_hit": cached_share(inputs, get_engine(kwargs["engine"]).kv_block_tokens)}
    spread = _LENGTH_SPREAD.search(system)
    if spread is not None:
        if served is None:
            raise NotExpressibleError("a stated spread of request lengths is modelled under served traffic only (a "
                                      "row of more than one client)")
        served = {**served, "input_cv": float(spread.group(1)), "output_cv": float(spread.group(2)),
                  "max_output_tokens": max(float(spread.group(3)), float(outputs))}
    interval = _STREAM_INTERVAL.search(system)
    chunk = 1  # decode steps between a static row's streamed chunks
    if interval is not None and int(interval.group(1)) > 1:
        if served is not None:
            served = {**served, "stream_interval": int(interval.group(1))}
        elif metric.startswith("itl_"):
            # one request in flight: every chunk after the first token is k decode steps, so each gap the client
            # times is k TPOTs (the TTFT, TPOT, end-to-end latency and throughput are the engine's own, unchanged)
            chunk = int(interval.group(1))
    recv = _RECV_INTERVAL.search(system)
    if recv is not None and int(recv.group(1)) > 1 and served is not None:
        served = {**served, "recv_interval": int(recv.group(1))}
    if served is not None:
        key = SERVED_KEYS.get(metric, METRICS[metric][0])
        if key.endswith("_mean_s") and _states_median(row):
            key = key.replace("_mean_s", "_p50_s")
        return Case(row, kwargs, key, UNITS[unit], measured, served, fraction, stage * pp)
    return Case(row, kwargs, METRICS[metric][0], UNITS[unit] / chunk, measured, memory_fraction=fraction,
                replica_devices=stage * pp)


# a row's devices on more than one node over a network the row names (bandwidth class or kind) ...
_NAMED_NETWORK = re.compile(r"infiniband|\broce\b|ethernet|\befa\b|\bib\b|[0-9]\s*gb(?:it)?/?s|gbe\b")
# ... or not: pods or processes on separate nodes over "the cluster network"
_ACROSS_NODES = re.compile(r"across nodes|spans? across|(?:two|[0-9]+) nodes over|cluster network")
# devices in one node that cannot reach each other's memory (NCCL's and vLLM's log lines say so)
_NO_PEER_ACCESS = re.compile(r"lacks gpu p2p|no (?:gpu )?p2p|p2p (?:is )?disabled|without (?:gpu )?p2p")
# the latency of a small message between GPUs through host memory (NCCL's shared-memory path over PCIe), the
# figure the GeForce entries' PCIe links carry (hardware_db/rtx-4090.yaml): a typical value, not a datasheet one
HOST_PATH_LATENCY_S = 10e-6
_HOST_PATH = IdentityCache(32)


def stated_link(hw: HardwareSpec, text: str) -> HardwareSpec:
    """The device ``hw`` as the row's ``interconnect`` text says its devices were connected.

    * Devices that communicate across nodes over a network the text does not name ("two nodes over the cluster
      network", "four pods across nodes") make the row ``NotExpressibleError``: the collectives' time depends on
      that network's bandwidth and latency, which the row does not give.
    * Devices in one node without peer-to-peer access ("your platform lacks GPU P2P capability") exchange data
      through host memory: the scale-up link becomes the device's ``host_link`` (its PCIe bandwidth per direction)
      with ``HOST_PATH_LATENCY_S``; a device without a described host link makes the row not expressible. A device
      whose scale-up link is PCIe already keeps it.
    * Anything else keeps the device's own links (empty or 'n/a', or a link the device has, stated or assumed).
    """
    low = text.strip().lower()
    if _ACROSS_NODES.search(low) and not _NAMED_NETWORK.search(low):
        raise NotExpressibleError(f"interconnect {text.strip()[:80]!r}: devices on several nodes over a network "
                                  "the row does not describe (no bandwidth or kind); collectives cannot be timed")
    if not _NO_PEER_ACCESS.search(low) or hw.scale_up is None or hw.scale_up.name.lower().startswith("pcie"):
        return hw
    if hw.host_link is None:
        raise NotExpressibleError(f"interconnect {text.strip()[:80]!r}: no GPU peer-to-peer access, and "
                                  f"{hw.name} describes no host link for the path through host memory")
    return _HOST_PATH.get((hw,), (), lambda: _through_host(hw))


def _through_host(hw: HardwareSpec) -> HardwareSpec:
    link = hw.host_link
    path = Interconnect(name=f"{link.name}, through host memory (no peer-to-peer access)",
                        bandwidth_per_direction_bytes_per_s=link.bandwidth_per_direction_bytes_per_s,
                        latency_s=HOST_PATH_LATENCY_S, domain_size=hw.scale_up.domain_size, topology="switch",
                        note="a validation row's stated link: genmodel.validation.rows.stated_link")
    return hw.model_copy(update={"scale_up": path})


def memory_fraction_of(system: str) -> float | None:
    """The share of device memory a row's ``system`` text gives the engine: vLLM's ``--gpu-memory-utilization X``
    (or ``gpu_memory_utilization=X``) and SGLang's ``--mem-fraction-static X``, as ``usable_memory_fraction``
    (``genmodel.specs.hardware.Efficiency``); None where the text states none. A stated share outside (0, 1] makes
    the row not expressible."""
    found = _MEMORY_FRACTION.search(system.lower())
    if found is None:
        return None
    fraction = float(found.group(1))
    if not 0.0 < fraction <= 1.0:
        raise NotExpressibleError(f"the stated memory share {found.group(1)} is not in (0, 1]")
    return fraction


_UBATCH = re.compile(r"\bubatch (\d+)\b")
_NO_FLASH = re.compile(r"\bflash[- ]attn off\b|\bno flash attention\b")
_SLOTS = re.compile(r"(?:^|[\s,(])(?:-np|--parallel)[ =](\d+)\b")
_VLLM_BUDGET = re.compile(r"--max-num-batched-tokens[ =](\d+)\b")
_VLLM_SEQS = re.compile(r"--max-num-seqs[ =](\d+)\b")
_SGLANG_SEQS = re.compile(r"--max-running-requests[ =](\d+)\b")
_VLLM_STEPS = re.compile(r"--num-scheduler-steps[ =](\d+)\b")
_NO_GRAPHS = re.compile(r"--enforce-eager\b|\benforce_eager\s*[=:]\s*true\b|--disable-cuda-graph\b(?!-)")
_GRAPH_MAX = re.compile(r"--cuda-graph-max-bs[ =](\d+)\b")
_PIECEWISE = re.compile(r"--enable-piecewise-cuda-graph\b|\benable_piecewise_cuda_graph\s*[=:]\s*true\b")
# a flag named in order to say it was not given ("no --enforce-eager stated", "the same command without
# --enable-piecewise-cuda-graph"): a negating word, then only spaces and words (no clause break), right before it
_NEGATED = re.compile(r"(?<![-\w])(?:no|not|without|w/o)\s+(?:[\w/]+\s+){0,3}$")
_MEMORY_FRACTION = re.compile(
    r"(?:gpu[-_ ]memory[-_ ]utili[sz]ation|mem[-_ ]fraction[-_ ]static)[\s=:]+(\d+(?:\.\d+)?)")


_VERSION = re.compile(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?")
_MAX_MODEL_LEN = re.compile(r"max[-_]model[-_]len[ =:]+(\d+)\b")
_CHUNKING_OFF = re.compile(r"chunked prefill off|no chunked prefill|--no-enable-chunked-prefill\b"
                           r"|enable[-_]chunked[-_]prefill\s*[=: ]\s*false")
_CHUNKING_ON = re.compile(r"chunked prefill on\b|--enable-chunked-prefill(?![-=\w])"
                          r"|enable_chunked_prefill\s*[=:]\s*true")
_V0 = re.compile(r"\bv0 engine\b|vllm_use_v1\s*=\s*0")
_V1 = re.compile(r"\bv1 engine\b|vllm_use_v1\s*=\s*1")


def release_of(text: str) -> tuple[int, int, int] | None:
    """The release number a version text starts with (``0.7.3.dev138+g21f6ca217`` -> (0, 7, 3)), or None."""
    version = _VERSION.match(text)
    return tuple(int(g or 0) for g in version.groups()) if version else None


_TRT_PYTORCH = re.compile(r"pytorch backend|--backend[ =]pytorch\b|\bbackend\s*:\s*pytorch\b")
_TRT_ENGINES = re.compile(r"trtllm-build|tensorrt backend|--backend[ =]tensorrt\b|gptsession|gptmanager"
                          r"|c\+\+ executor|engine_dir")
_TRT_RELEASE = re.compile(r"tensorrt-llm/release:(\d+)\.(\d+)")


def trtllm_pytorch(row: Mapping[str, str]) -> bool:
    """Whether a TensorRT-LLM row ran its PyTorch backend (the engine profile 'trtllm-pytorch'): its ``system`` text
    says so (``PyTorch backend``, ``--backend pytorch``), or it ran release 1.0 or later (the version, or a
    ``tensorrt-llm/release:X.Y`` container named in the version or system text) and states no TensorRT engine
    (``trtllm-build``, the TensorRT backend, gptSessionBenchmark, gptManagerBenchmark, the C++ executor): the
    PyTorch backend is the default from 1.0, an option (``--backend pytorch``) in 0.17-0.21."""
    system = _cell(row, "system").lower()
    if _TRT_PYTORCH.search(system):
        return True
    version = _cell(row, "engine_version")
    release = release_of(version)
    if release is None:
        found = _TRT_RELEASE.search(f"{version} {system}".lower())
        release = (int(found.group(1)), int(found.group(2)), 0) if found else None
    return release is not None and release >= (1, 0, 0) and not _TRT_ENGINES.search(system)


def vllm_v0_scheduler(row: Mapping[str, str], model, hw) -> dict[str, Any] | None:
    """The scheduler of a vLLM row that ran the V0 engine, as ``EngineSpec`` settings (``mixed_batches``,
    ``chunked_prefill``, ``max_batch_tokens``, ``max_seqs``: V0's 256 on every device, and ``graph_steps`` 'decode':
    V0 replays its captured CUDA graphs only for steps without prompt tokens, history item 41); None for the V1 engine
    (the ``vllm`` profile as it is) or where the row does not say (docs/validation.md history item 35, SOURCES.md
    conventions).

    V0 is the engine of vLLM before 0.8.0, of 0.8.x off CUDA (ROCm stayed on V0 unless VLLM_USE_V1=1), and of any
    run that states it, VLLM_USE_V1=0 or multi-step scheduling (``--num-scheduler-steps N`` with N > 1, V0 only; N = 1
    is the default, which V1 accepts: 0.8.5's ``_is_v1_supported_oracle`` falls back only for a value other than
    ``SchedulerConfig.num_scheduler_steps``, 1, and V0 steps several times only for N > 1); "V1 engine" or
    VLLM_USE_V1=1 keeps V1. V0
    runs prefill steps apart from decode steps (``_schedule_default``: a step that admits a prompt runs no decode),
    whole prompts, up to max(max_model_len, 2048) tokens a step, unless chunked prefill is on: then decodes go first
    and prompt chunks fill the rest of a 512-token (up to 0.6.4) or 2048-token budget. Chunked prefill is on where the
    row says so, else by V0's default rule: max_model_len (the row's --max-model-len, else the model's context) above
    32,768, on CUDA (ROCm too up to 0.6.4), a model without a sliding window, not MLA from 0.7.1 (forced off), and
    not multi-step scheduling (which 0.6.0-0.6.2 refuse with chunking; ASSUMED off later too unless stated; its budget
    stays max(max_model_len, 2048) either way). V0's model runner (``vllm/worker/model_runner.py``, ``execute_model``:
    "Currently cuda graph is only supported by the decode phase") takes a captured graph only where the step has no
    prefill metadata, so every step carrying prompt tokens, a chunked step included, runs eagerly: ``graph_steps``
    'decode', as SGLang's profile (a row stating ``--enforce-eager`` keeps 'none': ``_engine_with``). A 0.7.3 row of
    a model with MLA attention also takes the DeepSeek kernels of that release's modelling code (the ``vllm-v0``
    profile's ``mla_extra_kernels``, docs/validation.md history item 75)."""
    system = _cell(row, "system").lower()
    if _V1.search(system):
        return None
    release = release_of(_cell(row, "engine_version"))
    rocm = hw.vendor.lower() == "amd"
    multi_step = _multi_step(system)
    stated_v0 = bool(_V0.search(system)) or multi_step
    if not stated_v0 and (release is None or release >= (0, 9, 0) or (release >= (0, 8, 0) and not rocm)):
        return None
    stated_len = _MAX_MODEL_LEN.search(system)
    max_len = int(stated_len.group(1)) if stated_len else int(model.max_context_tokens)
    if _CHUNKING_OFF.search(system):
        chunked = False
    elif _CHUNKING_ON.search(system):
        chunked = True
    else:
        late = release is None or release >= (0, 6, 5)  # (a release not stated: the later rules)
        chunked = (max_len > 32768 and not multi_step and not (rocm and late) and model.attention.window_tokens is None
                   and not (model.attention.mla is not None and (release is None or release >= (0, 7, 1))))
    if not chunked or multi_step:
        budget = max(max_len, 2048)
    else:
        budget = 512 if release is not None and release <= (0, 6, 4) else 2048
    settings = {"mixed_batches": chunked, "chunked_prefill": chunked, "max_batch_tokens": budget, "max_seqs": 256,
                "graph_steps": "decode"}
    if release == VLLM_V0_KERNELS_RELEASE and model.attention.mla is not None:  # (the release read: history item 75)
        from genmodel.data.registry import get_engine

        settings["mla_extra_kernels"] = dict(get_engine("vllm-v0").mla_extra_kernels)
    return settings


# the SGLang releases whose DeepSeek modelling code launches the extra kernels of the 'sglang-v0.4' profile, first
# and last (engines_db/sglang-v0.4.yaml: 0.4.3, 0.4.4 and 0.4.5 read; 0.4.5.post1 fused most of them away)
SGLANG_V04_RELEASES = ((0, 4, 0), (0, 4, 5))
# the vLLM release whose DeepSeek kernels the 'vllm-v0' profile carries (engines_db/vllm-v0.yaml)
VLLM_V0_KERNELS_RELEASE = (0, 7, 3)
_POST = re.compile(r"^\s*v?\d+\.\d+\.\d+\.?post", re.IGNORECASE)


def sglang_kernels(row: Mapping[str, str], model=None) -> dict[str, Any] | None:
    """The DeepSeek kernels of an SGLang row of a release in ``SGLANG_V04_RELEASES`` (the ``sglang-v0.4``
    profile's ``mla_extra_kernels``, as ``EngineSpec`` settings for the ``sglang`` profile, which keeps its name and
    fitted step costs: docs/validation.md history item 75); None for other releases, where the row states none (the
    ``sglang`` profile as it is) and for a ``model`` without MLA attention (whose layers run none of them)."""
    from genmodel.data.registry import get_engine

    if model is not None and model.attention.mla is None:
        return None
    version = _cell(row, "engine_version")
    release = release_of(version)
    first, last = SGLANG_V04_RELEASES
    if release is None or not first <= release <= last or (release == last and _POST.match(version)):
        return None
    return {"mla_extra_kernels": dict(get_engine("sglang-v0.4").mla_extra_kernels)}


def _multi_step(system: str) -> bool:
    """Whether a run's (lower-case) ``system`` text states vLLM V0's multi-step scheduling: ``--num-scheduler-steps N``
    with N > 1 (the flag without a number read as multi-step)."""
    if "--num-scheduler-steps" not in system:
        return False
    steps = _VLLM_STEPS.search(system)
    return steps is None or int(steps.group(1)) > 1


def _stated(flag: re.Pattern, text: str) -> bool:
    """Whether ``text`` states ``flag`` as given: a match not named in order to say it was not (``_NEGATED``: "no",
    "not", "without" or "w/o" just before it, as a word of its own, so that ``--no-enable-prefix-caching
    --enforce-eager`` still states the second flag)."""
    return any(not _NEGATED.search(text[max(0, m.start() - 40):m.start()]) for m in flag.finditer(text))


def _engine_as_run(name: str, system: str, scheduler: dict[str, Any] | None = None,
                   release: tuple[int, int, int] | None = None):
    """The engine profile ``name``, or a copy of it with the settings the row's ``system`` text states where they
    differ from the profile's: ``ubatch N`` (llama.cpp's -ub, prompt_ubatch_tokens), ``flash-attn off``
    (flash_attention false), ``-np N`` / ``--parallel N`` (llama-server's slots, max_seqs), SGLang's
    ``--max-running-requests N`` (max_seqs), vLLM's (and ATOM's)
    ``--max-num-batched-tokens N`` (the step's token budget on every device), ``--max-num-seqs N`` (max_seqs) and
    ``--num-scheduler-steps N`` (vLLM V0's multi-step scheduling: scheduler_steps), and the engine's graphs:
    ``--enforce-eager`` / ``enforce_eager=True`` / ``--disable-cuda-graph`` (no step replays a graph: graph_steps
    'none'), SGLang's ``--cuda-graph-max-bs N`` (decode graphs up to N sequences) and
    ``--enable-piecewise-cuda-graph`` (prompt steps replay graphs too: graph_steps 'all'; a graph flag the text names
    only to say it was not given, "no --enforce-eager stated", is not read: ``_stated``), and ``scheduler``, a V0
    run's scheduler settings (``vllm_v0_scheduler``; a stated budget or graph setting wins over its default) or an
    early SGLang release's DeepSeek kernels (``sglang_kernels``: ``mla_extra_kernels``). A
    budget or sequence limit so given holds on every device and for every kind of run (the profile's rules by device
    memory, ``batch_defaults``, give way); the rules of releases after the row's ``release`` are dropped. The copy
    keeps the name, so the profile's fitted step costs and the hold-out and band cells stay the engine's."""
    low = system.lower()
    ubatch = _UBATCH.search(low)
    vllm_flags = name.startswith("vllm") or name == "atom"  # (vllm, vllm-tpu, atom: the same flags)
    seqs_flag = _VLLM_SEQS if vllm_flags else _SGLANG_SEQS if name.startswith("sgl") else \
        _SLOTS if name == "llamacpp" else None  # (the flag that caps the running sequences)
    seqs = seqs_flag.search(low) if seqs_flag is not None else None
    budget = _VLLM_BUDGET.search(low) if vllm_flags else None
    steps = _VLLM_STEPS.search(low) if vllm_flags else None
    graph_max = _GRAPH_MAX.search(low)
    graphs = "none" if _stated(_NO_GRAPHS, low) else "all" if _stated(_PIECEWISE, low) else None
    return _engine_with(name, int(ubatch.group(1)) if ubatch else None, bool(_NO_FLASH.search(low)),
                        int(seqs.group(1)) if seqs else None, int(budget.group(1)) if budget else None,
                        graphs, int(graph_max.group(1)) if graph_max else None,
                        int(steps.group(1)) if steps else None, scheduler, release)


def _engine_with(name: str, ubatch: int | None, no_flash: bool, seqs: int | None = None,
                 budget: int | None = None, graphs: str | None = None, graph_max: int | None = None,
                 scheduler_steps: int | None = None, scheduler: dict[str, Any] | None = None,
                 release: tuple[int, int, int] | None = None):
    """``name``'s profile with a physical prompt batch of ``ubatch`` tokens, flash attention off, at most ``seqs``
    running sequences, a token budget of ``budget`` per step, ``graphs`` (graph_steps), decode graphs up to
    ``graph_max`` sequences, ``scheduler_steps`` decode steps per scheduler pass and/or the ``scheduler`` settings
    (``vllm_v0_scheduler``): one copy per profile object
    and setting (``genmodel.engine.memo``), so the rows that share it share the engine's memoized tables; the name
    where nothing differs. Graph settings apply only to a profile with an eager figure (``eager_launch_s``); for the
    others they change nothing."""
    from genmodel.data.registry import get_engine

    spec = get_engine(name)
    update: dict[str, Any] = {}
    scheduler = scheduler or {}  # (a V0 run's scheduler: vllm_v0_scheduler)
    if graphs is None:  # a stated graph setting wins over a V0 run's (prompt steps eager)
        graphs = scheduler.get("graph_steps")
    if spec.eager_launch_s > 0:
        if graphs is not None and graphs != spec.graph_steps:
            update["graph_steps"] = graphs
        buckets = spec.decode_batch_buckets
        if graph_max is not None and graph_max > 0 and buckets and (
                graph_max != max(buckets) or spec.decode_graph_limits):
            update["decode_batch_buckets"] = _graph_sizes_up_to(sorted(buckets), graph_max)
            update["decode_graph_limits"] = []  # (the size stated, not the engine's own choice)
    if ubatch is not None and spec.prompt_ubatch_tokens is not None and ubatch != spec.prompt_ubatch_tokens:
        update["prompt_ubatch_tokens"] = ubatch
    if no_flash and spec.flash_attention:
        update["flash_attention"] = False
    for key in ("mixed_batches", "chunked_prefill", "mla_extra_kernels"):
        if key in scheduler and scheduler[key] != getattr(spec, key):
            update[key] = scheduler[key]
    fixed_tokens = budget if budget is not None and budget > 0 else scheduler.get("max_batch_tokens")
    fixed_seqs = seqs if seqs is not None and seqs > 0 else scheduler.get("max_seqs")
    rules = [r for r in spec.batch_defaults
             if release is None or r.since_release is None or release >= release_of(r.since_release)]
    if fixed_tokens is not None:  # (stated: on every device, for every kind of run)
        rules = [r.model_copy(update={"max_batch_tokens": None, "offline_batch_tokens": None}) for r in rules]
        if fixed_tokens != spec.max_batch_tokens or spec.max_batch_tokens_on or spec.offline_batch_tokens is not None:
            update.update(max_batch_tokens=fixed_tokens, max_batch_tokens_on={}, offline_batch_tokens=None)
    if fixed_seqs is not None:
        rules = [r.model_copy(update={"max_seqs": None}) for r in rules]
        if fixed_seqs != spec.max_seqs:
            update["max_seqs"] = fixed_seqs
    rules = [r for r in rules if (r.max_batch_tokens, r.offline_batch_tokens, r.max_seqs) != (None, None, None)]
    if rules != spec.batch_defaults:
        update["batch_defaults"] = rules
    if scheduler_steps is not None and scheduler_steps > 0 and scheduler_steps != spec.scheduler_steps:
        update["scheduler_steps"] = scheduler_steps
    if not update:
        return name
    key = tuple(sorted((k, str(v)) for k, v in update.items()))  # (a budget's per-device table is a dict)
    return _AS_RUN.get((spec,), key, lambda: spec.model_copy(update=update))


_AS_RUN = IdentityCache(64)


def _graph_sizes_up_to(sizes: list[int], largest: int) -> list[int]:
    """The captured batch sizes with the largest set to ``largest``: the profile's sizes below it, continued past the
    profile's last size at its last step (SGLang's list goes on in steps of 8 or 16 up to cuda_graph_max_bs; the
    last step is the assumption), and ``largest`` itself."""
    below = {b for b in sizes if b < largest}
    if largest > sizes[-1]:
        step = sizes[-1] - sizes[-2] if len(sizes) > 1 else sizes[-1]
        below |= set(range(sizes[-1], largest, max(step, 1)))
    return sorted(below | {largest})


_RATE = re.compile(r"request rate ([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*/\s*s\b")
_OFFLINE = re.compile(r"max_num_seqs ([0-9]+), ([0-9]+) prompts \(offline")
_BURST = re.compile(r"request rate inf\s*,\s*([0-9]+) prompts\b")
_RUN = re.compile(r",\s*([0-9]+) prompts\b")  # a rate run's length (a benchmark's --num-prompts)


# a closed-loop benchmark's prompt count as its command line or description states it (``--num-prompts 100``,
# ``--num-prompts=1280``, ``--num-prompt 100``, ``max concurrency 4, 40 prompts``)
_RUN_LENGTH = re.compile(r"--num-prompts?[= ]+([0-9]+)\b|\b([0-9]+) prompts\b")


def run_length(system: str) -> int | None:
    """The number of requests a closed-loop row's benchmark sent (``serve``'s ``num_requests``), where its
    ``system`` cell states it, else None."""
    found = _RUN_LENGTH.search(system.lower())
    return None if found is None else int(found.group(1) or found.group(2))


# a row whose prompts the server had seen before (the same seeded prompts re-sent to an engine that caches prefixes)
_CACHED_PROMPTS = re.compile(r"prompts already cached")


def cached_share(prompt_tokens: int, page_tokens: int) -> float:
    """The share of a prompt served from the prefix cache when the whole prompt was cached before: its whole KV
    pages of ``page_tokens`` tokens, less the last token, which the engine always computes (it yields the first
    output token's logits)."""
    cached = min(prompt_tokens // page_tokens * page_tokens, prompt_tokens - 1)
    return cached / prompt_tokens


def served_load(text: str) -> dict[str, Any]:
    """The traffic of a continuous-batching row, as ``serve`` arguments, from its ``batch_or_concurrency`` cell:
    a whole number N is a benchmark's max concurrency (N clients in a closed loop), and ``N, identical requests``
    the same with requests of fixed lengths, which re-send in waves (``synchronized``); ``max``/``max-load``/``request
    rate inf`` is the saturated steady state (every request queued, as trtllm-bench and a benchmark at an infinite
    rate run); ``request rate inf, N prompts`` (no concurrency cap) is N requests submitted at once to the API
    server (its batch defaults: ``request_rate='inf'`` with ``num_requests``), ``max_num_seqs S, N prompts (offline
    ...)`` N through the offline class with at most S running; ``request rate R/s`` is Poisson arrivals at R,
    and ``request rate R/s ..., N prompts`` a run of N of them (``num_requests``: finite past saturation).
    Anything else is ``NotExpressibleError``."""
    low = text.strip().lower()
    if re.fullmatch(r"[+-]?[0-9]+", low):
        return {"concurrency": _count(low, "concurrency")}
    same = re.fullmatch(r"([+-]?[0-9]+)\s*,\s*identical requests", low)
    if same:
        return {"concurrency": _count(same.group(1), "concurrency"), "synchronized": True}
    burst = _BURST.match(low)
    if burst:  # every prompt sent at once to the server, no concurrency cap: it admits what it can, the rest queue
        return {"request_rate": "inf", "num_requests": _count(burst.group(1), "prompts")}
    if low.startswith("max-load") or low == "max" or low.startswith("request rate inf"):
        return {"request_rate": "max"}
    rate = _RATE.match(low)
    if rate:
        value = float(rate.group(1))
        if not math.isfinite(value) or value <= 0:
            raise NotExpressibleError(f"request rate {rate.group(1)}/s must be a finite number above 0")
        run = _RUN.search(low, rate.end())
        return {"request_rate": value, **({"num_requests": _count(run.group(1), "prompts")} if run else {})}
    offline = _OFFLINE.match(low)
    if offline:
        seqs, prompts = (_count(g, "offline requests") for g in offline.groups())
        return {"offline": prompts, "max_seqs": seqs}
    raise NotExpressibleError(f"batch_or_concurrency {text!r} of a continuous-batching row is not a concurrency "
                              "(a whole number, or 'N, identical requests'), 'max', 'request rate R/s' or "
                              "'max_num_seqs S, N prompts (offline'")


# the run's own request lengths where its file lists them (a benchmark's input_lens and output_lens): their
# coefficients of variation and the longest answer (``serve``'s input_cv, output_cv and max_output_tokens)
_LENGTH_SPREAD = re.compile(r"input cv ([0-9.]+), output cv ([0-9.]+), longest output ([0-9]+)")


# a stated stream interval: the server streams the tokens after the first in chunks of this many (TensorRT-LLM's
# ``stream_interval: 10`` in its extra LLM API options), so a client's inter-token gaps span that many steps
_STREAM_INTERVAL = re.compile(r"stream[_ -]interval[\s=:]+(\d+)")
# SGLang's --scheduler-recv-interval N: while it decodes, the scheduler takes in new requests every N decode steps
# (``serve``'s recv_interval); a static row (one request in flight) never waits on it
_RECV_INTERVAL = re.compile(r"scheduler[_-]recv[_-]interval[\s=:]+(\d+)")


def _states_median(row: Mapping[str, str]) -> bool:
    """True when the row says its latency is a median ('metric: Median TTFT', 'tpot = median ITL')."""
    notes = _cell(row, "notes").lower()
    return bool(re.search(r"metric: median|(?:ttft|tpot|itl|e2e[a-z_ ]*) = median", notes))


# the served-traffic figure a continuous-batching row's metric is compared with (means unless the row says median)
SERVED_KEYS = {"ttft": "ttft_mean_s", "tpot": "tpot_mean_s", "e2e_latency": "e2e_mean_s",
               **{f"{name}_p{q}": f"{'e2e' if name == 'e2e_latency' else name}_p{q}_s" for name, _, _ in TAILS
                  for q in (90, 99)}}
