"""The training engine: numerics only (numpy or cupy), nothing of HTTP or experiments."""

from .activations import ACTIVATIONS
from .arrays import Backend, DeviceError, get_backend
from .gradcheck import gradient_check
from .heads import MAX_CLASSES, HeadError, resolve_head
from .initializers import INITIALIZERS
from .layertypes import LAYER_TYPES, LayerEntry, LayerField, LayerType
from .losses import LOSSES
from .model import Model
from .optimizers import OPTIMIZERS
from .regularizers import REGULARIZERS
from .spec import ModelSpec, SpecError

__all__ = [
    "ACTIVATIONS", "INITIALIZERS", "LAYER_TYPES", "LOSSES", "MAX_CLASSES", "OPTIMIZERS",
    "REGULARIZERS", "Backend", "DeviceError", "HeadError", "LayerEntry", "LayerField",
    "LayerType", "Model", "ModelSpec", "SpecError", "get_backend", "gradient_check",
    "resolve_head",
]
