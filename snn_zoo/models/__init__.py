"""Model families of the zoo; importing this registers them in timm's registry."""
from ._base import SpikingModel
from ._builder import SNN_MODELS, build_snn_model, register_snn_model
from .sew_resnet import SpikingResNet
from .spiking_cnn import SpikingCNN
from .resnet19 import SpikingResNet19
from .spikformer import Spikformer
from .spikingformer import Spikingformer

__all__ = ["SNN_MODELS", "SpikingCNN", "SpikingModel", "SpikingResNet", "build_snn_model", "register_snn_model"]
__all__ += ["SpikingResNet19", "Spikformer", "Spikingformer"]
