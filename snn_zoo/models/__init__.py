"""Model families of the zoo; importing this registers them in timm's registry."""
from ._base import SpikingModel
from ._builder import SNN_MODELS, build_snn_model, register_snn_model
from ._ported import PORTED_STATUS, ported_weights
from .sew_resnet import SpikingResNet
from .spiking_cnn import SpikingCNN
from .resnet19 import SpikingResNet19
from .spikformer import Spikformer
from .spikingformer import Spikingformer
from .qkformer import QKFormer
from .spike_driven_transformer import SpikeDrivenTransformer
from .meta_spikeformer import MetaSpikeFormer

__all__ = ["SNN_MODELS", "SpikingCNN", "SpikingModel", "SpikingResNet", "build_snn_model", "register_snn_model"]
__all__ += ["SpikingResNet19", "Spikformer", "Spikingformer"]
__all__ += ["MetaSpikeFormer", "QKFormer", "SpikeDrivenTransformer"]
__all__ += ["PORTED_STATUS", "ported_weights"]
