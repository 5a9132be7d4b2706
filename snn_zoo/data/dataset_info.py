"""The two types every dataset source shares: :class:`DatasetInfo` and :class:`DatasetError`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DatasetError", "DatasetInfo"]


class DatasetError(ValueError):
    """A dataset could not be created because of user input (name, path, layout, arguments).

    The message says what was wrong and how to fix it.
    """


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset that models and recipes need before loading it.

    Attributes:
        name: canonical dataset name.
        num_classes: number of labels.
        in_chans: input channels (2 = ON/OFF polarity for event datasets).
        input_size: native ``(C, H, W)`` of one (per-time-step) input.
        mean, std: per-channel normalisation used by ``create_dataset`` (for
            event datasets ``0``/``1``: counts are not normalised; for digits
            and digits_dvs they are informational, items are returned unnormalised).
        is_event: True if items are ``[T, C, H, W]`` frame sequences.
        default_T: customary number of time bins for event datasets, else None.
        needs_data_dir: False for the embedded datasets.
    """

    name: str
    num_classes: int
    in_chans: int
    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    is_event: bool = False
    default_T: int | None = None
    needs_data_dir: bool = True
