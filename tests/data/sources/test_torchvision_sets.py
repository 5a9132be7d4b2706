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
