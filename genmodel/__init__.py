"""genmodel: first-principles LLM inference estimates (latency, throughput, memory) for any hardware."""

from genmodel.database import all_hardware, all_models, get_hardware, get_model
from genmodel.errors import ConfigurationError, DoesNotFitError, GenmodelError, SpecError, UnknownNameError
from genmodel.estimate import Estimate, estimate
from genmodel.hardware_spec import Efficiency, HardwareSpec
from genmodel.model_spec import ModelSpec
from genmodel.workload import Workload

__all__ = [
    "ConfigurationError", "DoesNotFitError", "Efficiency", "Estimate", "GenmodelError", "HardwareSpec", "ModelSpec",
    "SpecError", "UnknownNameError", "Workload", "all_hardware", "all_models", "estimate", "get_hardware",
    "get_model",
]
__version__ = "0.1.0"
