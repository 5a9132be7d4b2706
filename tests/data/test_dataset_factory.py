"""create_dataset / dataset_info / list_datasets: the name -> source table and helpful errors."""

import os

import pytest
import torch

from snn_zoo.data import (
    DatasetError,
    SyntheticDataset,
    create_dataset,
    dataset_info,
    dataset_title,
    list_datasets,
)


def test_unknown_name_lists_valid_names_and_close_matches():
    with pytest.raises(DatasetError) as e:
        create_dataset("cifar-1O")
    msg = str(e.value)
    assert "Unknown dataset 'cifar-1O'" in msg and "Did you mean" in msg and "'cifar10'" in msg
    for n in list_datasets():
        assert n in msg
    with pytest.raises(DatasetError, match="Valid names"):
        dataset_info("zzz")
    assert isinstance(DatasetError("x"), ValueError)
    # aliases and case are accepted
    assert dataset_info("CIFAR-10").name == "cifar10" and dataset_info("dvs-gesture").num_classes == 11


@pytest.mark.parametrize(
    "name",
    ["mnist", "fashion_mnist", "cifar10", "cifar100", "imagenet", "imagefolder", "cifar10_dvs", "dvs128_gesture"],
)
def test_missing_data_dir(name):
    with pytest.raises(DatasetError) as e:
        create_dataset(name, T=4)  # T is ignored by static datasets
    msg = str(e.value)
    assert f"{name!r} needs a data directory" in msg and "--data-dir" in msg and "Expected layout" in msg


@pytest.mark.parametrize("name", ["mnist", "cifar10", "imagefolder", "dvs128_gesture"])
def test_nonexistent_data_dir(name, tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match=r"does not exist.*--data-dir"):
        create_dataset(name, data_dir=missing, T=4)
    assert not missing.exists()  # nothing created as a side effect


@pytest.mark.parametrize("name", ["digits_dvs", "cifar10_dvs", "dvs128_gesture"])
def test_event_dataset_without_T(name, tmp_path):
    with pytest.raises(DatasetError) as e:
        create_dataset(name, data_dir=tmp_path)
    msg = str(e.value)
    assert "needs the number of time bins" in msg and "T=" in msg and str(dataset_info(name).default_T) in msg
    with pytest.raises(DatasetError, match="positive integer"):
        create_dataset(name, data_dir=tmp_path, T=0)


def test_event_dataset_files_missing_is_reported_without_side_effects(tmp_path):
    with pytest.raises(DatasetError) as e:
        create_dataset("dvs128_gesture", data_dir=tmp_path, T=4)
    msg = str(e.value)
    assert "DvsGesture.tar.gz" in msg and "events_np" in msg
    assert os.listdir(tmp_path) == []  # spikingjelly would have left a marker and a download/ folder


def test_other_bad_arguments(tmp_path):
    with pytest.raises(DatasetError, match="Unknown split 'tset'"):
        create_dataset("digits", split="tset")
    with pytest.raises(DatasetError, match=r"Unexpected argument\(s\) for dataset 'digits': colour"):
        create_dataset("digits", colour=True)
    with pytest.raises(DatasetError, match="Did you mean 'color_jitter'"):
        create_dataset("imagefolder", data_dir=tmp_path, colour_jitter=0.1)
    with pytest.raises(DatasetError, match="channels"):
        create_dataset("digits", input_size=(3, 8, 8))
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(DatasetError, match="not a directory"):
        create_dataset("cifar10", data_dir=f)


def test_synthetic_shapes_and_determinism():
    ds = SyntheticDataset(10, (3, 8, 8), 5, seed=1)
    x, y = ds[3]
    assert x.shape == (3, 8, 8) and 0 <= y < 5 and len(ds) == 10
    assert torch.equal(ds[3][0], SyntheticDataset(10, (3, 8, 8), 5, seed=1)[3][0])
    ev = SyntheticDataset(4, (6, 2, 8, 8), 3)
    x, _ = ev[0]
    assert x.shape == (6, 2, 8, 8) and set(x.unique().tolist()) <= {0.0, 1.0}
    made = create_dataset("synthetic", T=4, input_size=(2, 16, 16), num_classes=7, num_samples=12)
    assert len(made) == 12 and made[0][0].shape == (4, 2, 16, 16) and made.num_classes == 7
    static = create_dataset("synthetic", split="val")
    assert len(static) == 64 and static[0][0].shape == (3, 32, 32)
    info = dataset_info("synthetic", input_size=(2, 16, 16), num_classes=7, T=4)
    assert info.is_event and info.default_T == 4 and info.in_chans == 2 and info.num_classes == 7
    with pytest.raises(ValueError):
        SyntheticDataset(4, (8, 8), 3)


def test_dataset_info_table():
    for name in list_datasets():
        if name == "imagefolder":
            continue
        info = dataset_info(name)
        assert info.name == name and info.num_classes > 1 and info.input_size[0] == info.in_chans
        assert len(info.mean) == len(info.std) == info.in_chans
        assert info.is_event == (info.default_T is not None)
    assert dataset_info("cifar100").num_classes == 100 and dataset_info("imagenet").num_classes == 1000
    assert dataset_info("dvs128_gesture").input_size == (2, 128, 128)
    assert not dataset_info("digits").needs_data_dir and dataset_info("cifar10").needs_data_dir
    with pytest.raises(DatasetError, match="needs a data directory"):
        dataset_info("imagefolder")


def test_list_and_titles_come_from_one_table():
    names = list_datasets()
    assert len(names) == len(set(names)) and {"digits", "cifar10", "imagefolder", "synthetic"} <= set(names)
    assert dataset_title("cifar10") == "CIFAR-10" and dataset_title("dvs-gesture") == "DVS128 Gesture"
    assert dataset_title("imagefolder") == "imagefolder" and dataset_title("my_data") == "my_data"
