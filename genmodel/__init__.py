"""genmodel: first-principles LLM inference estimates (latency, throughput, memory, energy, cost) for any hardware.

The public API is re-exported here; the subpackages show the architecture:
``specs`` (model, hardware, platform, workload, units) -> ``data`` (databases, HF import) -> ``engine``
(operators, roofline, memory, collectives, one engine step, ``estimate``) -> ``economics`` (energy, TCO) ->
``search`` (size, plan, compare, requirements) -> ``serving`` (traffic: continuous batching, queueing)
-> ``validation`` -> ``interfaces`` (CLI, charts, dashboard).
"""

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
from genmodel.errors import (
    ConfigurationError,
    DoesNotFitError,
    GenmodelError,
    InputTypeError,
    SpecError,
    UnknownNameError,
)
from genmodel.search.compare import compare_hardware, compare_models
from genmodel.search.planner import plan, size
from genmodel.search.requirements import Requirements, requirements
from genmodel.serving.disaggregated import Disaggregated, serve_disaggregated
from genmodel.serving.serve import Served, serve
from genmodel.specs.engine import EngineSpec
from genmodel.specs.hardware import Efficiency, HardwareSpec
from genmodel.specs.model import ModelSpec
from genmodel.specs.platform import PlatformSpec
from genmodel.specs.usecase import UseCaseSpec
from genmodel.specs.workload import Workload
from genmodel.table import Table
from genmodel.version import __version__

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
    "synthetic_model",
    "use_databases",
]
