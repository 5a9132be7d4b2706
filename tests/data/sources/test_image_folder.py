"""ImageFolder source (imagefolder / imagenet): labels from train/, val/ alignment, helpful layout errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from snn_zoo.data import DatasetError, create_dataset, dataset_info


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
    for c in ("a", "b"):
        (root / "train" / c).mkdir(parents=True)
        (root / "val" / c).mkdir(parents=True)
    with pytest.raises(DatasetError, match="Could not read images"):
        create_dataset("imagefolder", data_dir=root, input_size=16)


def test_imagefolder_with_one_class_is_refused(tmp_path):
    root = _write_imagefolder(tmp_path / "one", classes=("cat",))
    with pytest.raises(DatasetError, match=r"one class folder \('cat'\); classification needs at least 2 classes"):
        dataset_info("imagefolder", data_dir=root)


def test_corrupt_image_is_named(tmp_path):
    root = _write_imagefolder(tmp_path / "bad")
    broken = root / "train" / "dog" / "0.png"
    broken.write_bytes(b"not a png at all")
    ds = create_dataset("imagefolder", data_dir=root, split="train", input_size=16)
    index = next(i for i, (path, _) in enumerate(ds.samples) if path.endswith("dog/0.png"))
    with pytest.raises(DatasetError, match=f"Cannot read image '{broken}'"):
        ds[index]
