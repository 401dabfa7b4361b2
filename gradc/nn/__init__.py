"""gradc.nn: modules, layers and losses composed from Tensor ops (their kernels and gradients come for free)."""
from . import functional, init, utils  # noqa: F401
from .module import Module  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all  # noqa: F401
from .parameter import Buffer, Parameter  # noqa: F401
