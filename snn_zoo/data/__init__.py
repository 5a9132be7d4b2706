"""Data layer of snn_zoo: dataset registry, embedded datasets and loaders.

Typical use::

    from snn_zoo.data import create_dataset, create_loader, dataset_info

    info = dataset_info("digits_dvs")            # num_classes, input_size, is_event, default_T, ...
    train = create_dataset("digits_dvs", split="train", T=info.default_T)
    loader = create_loader(train, batch_size=64, is_training=True, seed=0)
"""

from .constants import CIFAR10_DVS_VAL_FRACTION
from .dataset_factory import (
    DatasetError,
    DatasetInfo,
    create_dataset,
    dataset_info,
    dataset_title,
    eval_data_config,
    list_datasets,
    takes_timm_augmentation,
)
from .digits import DIGITS_CLASSES, DigitsDataset, digits_split_indices, load_digits_arrays
from .digits_dvs import DigitsDVSDataset, digits_dvs_events
from .event_camera import EVENT_DTYPE, DVSSimConfig, EventStreams, events_to_frames, make_event_streams
from .loader import create_loader
from .native_size import native_input_size
from .synthetic import SyntheticDataset

__all__ = [
    "CIFAR10_DVS_VAL_FRACTION",
    "DIGITS_CLASSES",
    "EVENT_DTYPE",
    "DVSSimConfig",
    "DatasetError",
    "DatasetInfo",
    "DigitsDVSDataset",
    "DigitsDataset",
    "EventStreams",
    "SyntheticDataset",
    "create_dataset",
    "create_loader",
    "dataset_info",
    "dataset_title",
    "digits_dvs_events",
    "digits_split_indices",
    "eval_data_config",
    "events_to_frames",
    "list_datasets",
    "load_digits_arrays",
    "make_event_streams",
    "native_input_size",
    "takes_timm_augmentation",
]
