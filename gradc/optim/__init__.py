"""gradc.optim: optimizers that update parameters in place with fused kernels, and learning-rate schedulers."""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop  # noqa: F401
