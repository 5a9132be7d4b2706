"""create_dataset / dataset_info / create_loader: happy paths and helpful errors."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from snn_zoo.data import (
    DATASET_NAMES,
    DatasetError,
    SyntheticDataset,
    create_dataset,
    create_loader,
    dataset_info,
)


def _write_imagefolder(root, classes=("cat", "dog", "eel"), splits=("train", "val"), per_class=2):
    rng = np.random.default_rng(0)
    for split in splits:
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(per_class):
                arr = rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)
                Image.fromarray(arr).save(d / f"{i}.png")
    return root


# ---------------------------------------------------------------- imagefolder


def test_imagefolder_loads(tmp_path):
    root = _write_imagefolder(tmp_path / "tiny")
    info = dataset_info("imagefolder", data_dir=root)
    assert info.num_classes == 3 and info.input_size == (3, 224, 224)
    train = create_dataset("imagefolder", data_dir=root, split="train", input_size=32)
    val = create_dataset("imagefolder", data_dir=str(root), split="val", input_size=(3, 24, 24))
    assert len(train) == 6 and len(val) == 6 and train.classes == ["cat", "dog", "eel"]
    x, y = train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == 0
    assert val[5][0].shape == (3, 24, 24) and val[5][1] == 2
    # the same timm transform kwargs are accepted
    ds = create_dataset("imagefolder", data_dir=root, input_size=16, hflip=0.0, scale=(0.5, 1.0))
    assert ds[0][0].shape == (3, 16, 16)


def test_imagenet_with_wrong_class_count_warns(tmp_path):
    root = _write_imagefolder(tmp_path / "tiny", per_class=1)
    with pytest.warns(UserWarning, match="use dataset 'imagefolder'"):
        ds = create_dataset("imagenet", data_dir=root, split="val", input_size=16)
    assert len(ds) == 3


def test_imagefolder_validation_dir_and_label_alignment(tmp_path):
    root = tmp_path / "d"
    _write_imagefolder(root, splits=("train",))
    _write_imagefolder(root, classes=("eel",), splits=("validation",))  # val has only the last class
    val = create_dataset("imagefolder", data_dir=root, split="val", input_size=16)
    assert len(val) == 2 and set(val.targets) == {2}  # label of 'eel' as in train/, not 0


def test_imagefolder_missing_val_lists_found_folders(tmp_path):
    root = tmp_path / "d"
    _write_imagefolder(root, splits=("train", "test"))
    with pytest.raises(DatasetError) as e:
        create_dataset("imagefolder", data_dir=root)
    msg = str(e.value)
    assert "val/" in msg and "test/" in msg and "train/" in msg and "Expected layout" in msg
    assert "Rename" in msg


def test_imagefolder_class_folders_at_top_level(tmp_path):
    root = tmp_path / "d"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"missing train/ and val/.*Found: a/, b/.*move them"):
        dataset_info("imagefolder", data_dir=root)


def test_imagefolder_without_images(tmp_path):
    root = tmp_path / "d"
    (root / "train" / "a").mkdir(parents=True)
    (root / "val" / "a").mkdir(parents=True)
    with pytest.raises(DatasetError, match="Could not read images"):
        create_dataset("imagefolder", data_dir=root, input_size=16)


# ---------------------------------------------------------------- errors


def test_unknown_name_lists_valid_names_and_close_matches():
    with pytest.raises(DatasetError) as e:
        create_dataset("cifar-1O")
    msg = str(e.value)
    assert "Unknown dataset 'cifar-1O'" in msg and "Did you mean" in msg and "'cifar10'" in msg
    for n in DATASET_NAMES:
        assert n in msg
    with pytest.raises(DatasetError, match="Valid names"):
        dataset_info("zzz")
    assert isinstance(DatasetError("x"), ValueError)
    # aliases and case are accepted
    assert dataset_info("CIFAR-10").name == "cifar10" and dataset_info("dvs-gesture").num_classes == 11


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "cifar100", "imagenet", "imagefolder",
                                  "cifar10_dvs", "dvs128_gesture"])
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


@pytest.mark.parametrize(
    "name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST"), ("cifar10", "cifar-10-batches-py"),
                    ("cifar100", "cifar-100-python")]
)
def test_torchvision_dataset_absent_from_existing_dir(name, folder, tmp_path):
    with pytest.raises(DatasetError) as e:
        create_dataset(name, data_dir=tmp_path)
    msg = str(e.value)
    assert folder in msg and "download=True" in msg and "Expected layout" in msg
    # pointing at the dataset folder itself instead of its parent is called out
    (tmp_path / folder).mkdir()
    with pytest.raises(DatasetError, match="pass its parent"):
        create_dataset(name, data_dir=tmp_path / folder)


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


# ---------------------------------------------------------------- synthetic, info, loader


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
    for name in DATASET_NAMES:
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


def test_create_loader_is_seeded():
    ds = create_dataset("digits", split="train")
    first = lambda seed: next(iter(create_loader(ds, 32, is_training=True, seed=seed)))[1]
    assert torch.equal(first(0), first(0)) and not torch.equal(first(0), first(1))
    train_loader = create_loader(ds, 100, is_training=True)
    assert len(train_loader) == len(ds) // 100  # drop_last in training
    val = create_loader(create_dataset("digits", split="val"), 100, is_training=False)
    assert len(val) == 4 and next(iter(val))[0].shape == (100, 1, 8, 8)
