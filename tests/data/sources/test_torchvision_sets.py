"""torchvision sources (mnist, fashion_mnist, cifar10, cifar100): nothing is downloaded, errors name the layout."""

import pytest

from snn_zoo.data import DatasetError, create_dataset


@pytest.mark.parametrize(
    "name,folder",
    [
        ("mnist", "MNIST"),
        ("fashion_mnist", "FashionMNIST"),
        ("cifar10", "cifar-10-batches-py"),
        ("cifar100", "cifar-100-python"),
    ],
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


def _fake_cifar10(root):
    """torchvision's python layout of CIFAR-10 with 4 random images per file (its md5 check is bypassed)."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))


def test_cifar_takes_timm_augmentation_as_the_official_recipes(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    from snn_zoo.data import takes_timm_augmentation

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)  # the md5 of the real files
    _fake_cifar10(tmp_path)
    plain = create_dataset("cifar10", data_dir=tmp_path, split="train")
    assert "RandomCrop(size=(32, 32), padding=4)" in repr(plain.transform)  # no timm kwargs: padded crop + flip
    ds = create_dataset(
        "cifar10", data_dir=tmp_path, split="train", auto_augment="rand-m9-n1-mstd0.4-inc1", re_prob=0.25
    )
    text = repr(ds.transform)
    assert "scale=(1.0, 1.0)" in text and "RandAugment" in text and "RandomErasing" in text and "bicubic" in text
    x, y = ds[0]
    assert tuple(x.shape) == (3, 32, 32) and y == 0
    assert takes_timm_augmentation("cifar100") and not takes_timm_augmentation("mnist")
    with pytest.raises(DatasetError, match="Unexpected argument"):
        create_dataset("mnist", data_dir=tmp_path, auto_augment="rand-m9-n1-mstd0.4-inc1")
