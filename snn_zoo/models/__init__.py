"""Model families of the zoo; importing this registers them in timm's registry."""

from ._base import SpikingModel
from ._builder import SNN_MODELS, build_snn_model, register_snn_model
from ._ported import PORTED_STATUS, ported_weights
from .meta_spikeformer import MetaSpikeFormer
from .qkformer import QKFormer
from .resnet19 import SpikingResNet19
from .sew_resnet import SpikingResNet
from .spike_driven_transformer import SpikeDrivenTransformer
from .spikformer import Spikformer
from .spiking_cnn import SpikingCNN
from .spikingformer import Spikingformer

__all__ = ["SNN_MODELS", "SpikingCNN", "SpikingModel", "SpikingResNet", "build_snn_model", "register_snn_model"]
__all__ += ["Spikformer", "SpikingResNet19", "Spikingformer"]
__all__ += ["MetaSpikeFormer", "QKFormer", "SpikeDrivenTransformer"]
__all__ += ["PORTED_STATUS", "ported_weights"]
