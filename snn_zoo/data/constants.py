"""Dataset constants: per-channel normalisation and fixed split fractions (like timm's ``data/constants.py``).

Imports nothing from snn_zoo, so models can read their default configs from here without an
import cycle.  ImageNet's statistics are timm's own (re-exported, not re-typed).
"""

from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

__all__ = [
    "CIFAR10_DVS_VAL_FRACTION",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "DIGITS_MEAN",
    "DIGITS_STD",
    "EVENT_MEAN",
    "EVENT_STD",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "MNIST_MEAN",
    "MNIST_STD",
]

# Per-channel mean/std of the training images, pixel values scaled to [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
#: scikit-learn's 8x8 digits; informational: DigitsDataset returns them unnormalised.
DIGITS_MEAN = (0.3053,)
DIGITS_STD = (0.3760,)
#: Event frames hold ON/OFF counts, which are not normalised.
EVENT_MEAN = (0.0, 0.0)
EVENT_STD = (1.0, 1.0)

#: CIFAR10-DVS has no official split; this fraction of every class is held out (see create_dataset).
CIFAR10_DVS_VAL_FRACTION = 0.1
