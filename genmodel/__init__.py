"""genmodel: first-principles LLM inference estimates (latency, throughput, memory, energy, cost) for any hardware.

The public API is re-exported here; the subpackages show the architecture:
``specs`` (model, hardware, platform, workload, units) -> ``data`` (databases, HF import) -> ``engine``
(operators, roofline, memory, collectives, one engine step, ``estimate``) -> ``economics`` (energy, TCO) ->
``search`` (size, plan, compare, requirements) -> ``serving`` (traffic: continuous batching, queueing)
-> ``validation`` -> ``interfaces`` (CLI, charts, dashboard).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from genmodel.errors import (
    ConfigurationError,
    DoesNotFitError,
    GenmodelError,
    InputTypeError,
    SpecError,
    UnknownNameError,
)
from genmodel.version import __version__

# the public names, imported from their modules on first use (PEP 562): `import genmodel` stays cheap, so a CLI
# command imports only what it runs
_EXPORTS = {
    "all_engines": "genmodel.data.registry", "all_hardware": "genmodel.data.registry",
    "all_models": "genmodel.data.registry", "all_platforms": "genmodel.data.registry",
    "all_use_cases": "genmodel.data.registry", "get_engine": "genmodel.data.registry",
    "get_hardware": "genmodel.data.registry", "get_model": "genmodel.data.registry",
    "get_platform": "genmodel.data.registry", "get_use_case": "genmodel.data.registry",
    "use_databases": "genmodel.data.registry", "synthetic_model": "genmodel.data.synthetic",
    "CostAssumptions": "genmodel.economics.tco", "estimate": "genmodel.engine.estimate",
    "Parallelism": "genmodel.engine.parallel", "Realism": "genmodel.engine.realism",
    "Estimate": "genmodel.engine.result", "compare_hardware": "genmodel.search.compare",
    "compare_models": "genmodel.search.compare", "plan": "genmodel.search.planner", "size": "genmodel.search.planner",
    "Requirements": "genmodel.search.requirements", "requirements": "genmodel.search.requirements",
    "sweep": "genmodel.search.sweep", "Disaggregated": "genmodel.serving.disaggregated",
    "serve_disaggregated": "genmodel.serving.disaggregated", "Served": "genmodel.serving.serve",
    "serve": "genmodel.serving.serve", "EngineSpec": "genmodel.specs.engine", "Efficiency": "genmodel.specs.hardware",
    "HardwareSpec": "genmodel.specs.hardware", "ModelSpec": "genmodel.specs.model",
    "PlatformSpec": "genmodel.specs.platform", "UseCaseSpec": "genmodel.specs.usecase",
    "Workload": "genmodel.specs.workload", "Table": "genmodel.table",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genmodel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from genmodel.data.registry import (
        all_engines,
        all_hardware,
        all_models,
        all_platforms,
        all_use_cases,
        get_engine,
        get_hardware,
        get_model,
        get_platform,
        get_use_case,
        use_databases,
    )
    from genmodel.data.synthetic import synthetic_model
    from genmodel.economics.tco import CostAssumptions
    from genmodel.engine.estimate import estimate
    from genmodel.engine.parallel import Parallelism
    from genmodel.engine.realism import Realism
    from genmodel.engine.result import Estimate
    from genmodel.search.compare import compare_hardware, compare_models
    from genmodel.search.planner import plan, size
    from genmodel.search.requirements import Requirements, requirements
    from genmodel.search.sweep import sweep
    from genmodel.serving.disaggregated import Disaggregated, serve_disaggregated
    from genmodel.serving.serve import Served, serve
    from genmodel.specs.engine import EngineSpec
    from genmodel.specs.hardware import Efficiency, HardwareSpec
    from genmodel.specs.model import ModelSpec
    from genmodel.specs.platform import PlatformSpec
    from genmodel.specs.usecase import UseCaseSpec
    from genmodel.specs.workload import Workload
    from genmodel.table import Table

__all__ = [
    "ConfigurationError",
    "CostAssumptions",
    "Disaggregated",
    "DoesNotFitError",
    "Efficiency",
    "EngineSpec",
    "Estimate",
    "GenmodelError",
    "HardwareSpec",
    "InputTypeError",
    "ModelSpec",
    "Parallelism",
    "PlatformSpec",
    "Realism",
    "Requirements",
    "Served",
    "SpecError",
    "Table",
    "UnknownNameError",
    "UseCaseSpec",
    "Workload",
    "__version__",
    "all_engines",
    "all_hardware",
    "all_models",
    "all_platforms",
    "all_use_cases",
    "compare_hardware",
    "compare_models",
    "estimate",
    "get_engine",
    "get_hardware",
    "get_model",
    "get_platform",
    "get_use_case",
    "plan",
    "requirements",
    "serve",
    "serve_disaggregated",
    "size",
    "sweep",
    "synthetic_model",
    "use_databases",
]
