"""examples/planning.ipynb runs from top to bottom and shows what the library computes.

CI runs the README's test command, so this test is how CI executes the notebook: with nbclient, in a kernel of
the interpreter running the tests (ipykernel's own ``python3`` kernelspec, never one registered elsewhere on the
machine), with this checkout first on the kernel's path. Any cell error fails the test. The printed figures are
compared with independent library calls made here with the same arguments, typed again (not read from the
notebook), and the stored notebook must be clean (no outputs), so that its diffs stay small.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("plotly")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402  (installed with nbclient)
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from traitlets import default  # noqa: E402

import genmodel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "planning.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"

# the notebook's question, typed again
MODEL, HARDWARE, TP = "llama-3.1-70b", "dgx-h200", 4
DTYPES = {"weight_dtype": "fp8", "activation_dtype": "fp8", "kv_dtype": "fp8"}


class ThisPythonKernel(AsyncKernelManager):
    """A kernel manager that sees only ipykernel's native ``python3`` spec: the interpreter running the tests,
    whatever kernelspecs the user or the system have installed (nothing is registered)."""

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self):
        return KernelSpecManager(kernel_dirs=[])


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    scratch = tmp_path_factory.mktemp("kernel")
    with pytest.MonkeyPatch.context() as mp:
        # the checkout the tests import, first on the kernel's path; IPython's and Jupyter's files in a scratch folder
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
        mp.setenv("IPYTHONDIR", str(scratch / "ipython"))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(scratch / "runtime"))
        client = nbclient.NotebookClient(nb, kernel_name="python3", kernel_manager_class=ThisPythonKernel,
                                         timeout=300, allow_errors=False,
                                         resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute()  # raises CellExecutionError, naming the cell, on any error
    return nb


def _text(nb) -> str:
    """Everything the code cells printed."""
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream" and o.get("name") == "stdout")


def _lines(text: str, start: str) -> list[str]:
    lines = [ln for ln in text.splitlines() if ln.lstrip().startswith(start)]
    assert lines, f"no line starting with {start!r} in the notebook's output"
    return lines


def _line(text: str, start: str) -> str:
    return _lines(text, start)[0]


def _values(array) -> np.ndarray:
    """A plotly JSON array: a list, or (plotly >= 6) base64 bytes with their dtype."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).astype(float)
    return np.asarray(array, dtype=float).ravel()


def test_stored_notebook_is_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] and c.execution_count is None for c in code), \
        "store examples/planning.ipynb without outputs (clear them before committing)"
    assert nb.metadata.kernelspec.name == "python3"


def test_no_cell_writes_to_stderr_or_fails(executed):
    # allow_errors=False already fails the fixture on an exception; warnings printed by the library count too
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"]
            assert not [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]


def test_estimate_cell_prints_estimates_figures(executed):
    case = genmodel.get_use_case("chat")
    I, O = round(case.input_tokens), round(case.output_tokens)
    assert (I, O) == (1155, 211)  # usecases_db/chat.yaml: the Azure 2023 conversation trace's means
    est = genmodel.estimate(MODEL, HARDWARE, batch=1, input_tokens=I, output_tokens=O, tp=TP, **DTYPES)
    text = _text(executed)
    tpot = _line(text, "TPOT ")
    assert f"{est.tpot_s * 1e3:10,.3f} ms" in tpot
    assert f"80% band {est.metrics['tpot_s_low'] * 1e3:,.1f}-{est.metrics['tpot_s_high'] * 1e3:,.1f} ms" in tpot
    assert f"ideal {est.ideal_tpot_s * 1e3:,.3f} ms" in tpot
    assert f"{est.ttft_s * 1e3:10,.3f} ms" in _line(text, "TTFT ")
    # the band brackets the estimate and the ideal roofline is never above it
    assert est.metrics["tpot_s_low"] < est.tpot_s < est.metrics["tpot_s_high"]
    assert est.ideal_tpot_s <= est.tpot_s


def test_served_cell_prints_serves_figures(executed):
    case = genmodel.get_use_case("chat")
    served = genmodel.serve(MODEL, HARDWARE, round(case.input_tokens), round(case.output_tokens),
                            request_rate=case.request_rate_per_s, input_cv=case.input_cv, output_cv=case.output_cv,
                            ttft_target_s=case.ttft_target_s, tpot_target_s=case.tpot_target_s,
                            percentile=case.percentile, tp=TP, **DTYPES)
    text = _text(executed)
    ttft = _lines(text, "TTFT ")[1]  # the first is the estimate's
    assert ttft.split()[1:] == [f"{served.ttft_p50_s * 1e3:,.3f}", "ms", f"{served.ttft_p90_s * 1e3:,.3f}", "ms",
                                f"{served.ttft_p99_s * 1e3:,.3f}", "ms"]
    assert _line(text, "saturation ").startswith(f"saturation {served.max_request_rate_per_s:.3f} requests/s")
    goodput = _line(text, "goodput ")
    assert goodput.startswith(f"goodput {served.goodput_requests_per_s:.3f} requests/s")
    assert f"targets met at P99: {bool(served.meets_slo)}" in goodput


def test_plan_requirements_sweep_and_cost_cells(executed):
    case = genmodel.get_use_case("chat")
    text = _text(executed)
    plan = genmodel.plan(MODEL, HARDWARE, 1155, 211, ttft_s=case.ttft_target_s, tpot_s=case.tpot_target_s,
                         request_rate=case.request_rate_per_s, percentile=case.percentile, max_devices=8, **DTYPES)
    assert _line(text, f"{len(plan.space)} configurations,").endswith(f"{len(plan.ranked)} meet the targets")
    req = genmodel.requirements(MODEL, use_case="chat", tp=TP, reference="h200-sxm",
                                compare=["h100-sxm", "b200", "mi300x"], **DTYPES)
    assert _line(text, "binding: ") == f"binding: {req.binding}"
    assert _line(text, "scaled reference: ").startswith(
        f"scaled reference: h200-sxm x {float(req.scaled['scale_factor']):.3f}")
    # the sweep: 9 batches x 3 prompt lengths x 5 x 5 hardware scales in one call
    assert _line(text, "675 configurations in one call;")
    # cost at the served running batch: estimate's own usd_ and energy_ metrics
    served = genmodel.serve(MODEL, HARDWARE, 1155, 211, request_rate=case.request_rate_per_s,
                            input_cv=case.input_cv, output_cv=case.output_cv, tp=TP, **DTYPES)
    batch = max(round(served.running_batch), 1)
    priced = genmodel.estimate(MODEL, HARDWARE, batch=batch, input_tokens=1155, output_tokens=211, tp=TP,
                               costs=genmodel.CostAssumptions(mode="rented"), check_fit=False, **DTYPES)
    cost = _line(text, "at the served running batch ")
    assert cost.startswith(f"at the served running batch {batch}: {priced.usd_per_million_output_tokens:.4f} USD")
    assert f"{priced.energy_per_output_token_j:.4f} J per output token" in cost


def test_every_figure_is_drawn_with_data(executed):
    figures = [o.data[PLOTLY] for c in executed.cells if c.cell_type == "code" for o in c.outputs
               if o.output_type in ("execute_result", "display_data") and PLOTLY in o.data]
    # latency against load, the plan's layouts, the requirements frontier, the hardware sweep, cost and energy
    assert len(figures) == 5
    for fig in figures:
        fig = json.loads(fig) if isinstance(fig, str) else fig
        assert fig["layout"]["title"]["text"]
        assert fig["data"]
        for trace in fig["data"]:  # every trace draws at least one finite point
            values = _values(trace["z"] if trace.get("type") == "heatmap" else trace["y"])
            assert np.isfinite(values).any(), trace.get("name")
