"""validation"""
from genmodel.validation.core import *  # noqa: F401,F403
