"""Manifest of the authors' checkpoint files behind every ported tag: what to look for, and how to check it.

``hub_scripts/release.py --from DIR`` finds each ported tag's file in DIR by the names recorded here
(or in ``DIR/<tag>/``), checks it against the recorded SHA-256 where the authors publish one, and
ports it. ``create_model(tag, pretrained=True)`` names the file in its error while the tag's Hub repo
does not exist yet. Nothing here is downloaded automatically: the authors host their files on
figshare, Google Drive and Baidu pan, which need a browser.

Names: the SEW-ResNet files on figshare are ``sew<depth>_checkpoint_319.pth`` and
``spiking_resnet_<depth>_checkpoint_319.pth`` (epoch 319 of the authors' ``train.py``; the names under
which the files are cited by the projects that load them). Where the authors' download page gives no
file name we record none; put such a file in ``DIR/<tag>/`` under any name. No author publishes a
checksum, so ``sha256`` is empty everywhere until the release owner records the digests of the files
they downloaded (``python hub_scripts/release.py --from DIR --dry-run`` prints them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["AUTHORS_FILES", "SOURCE_COMMITS", "AuthorsFile", "authors_file", "dataset_key"]


@dataclass(frozen=True)
class AuthorsFile:
    """What one ported tag's release looks for.

    ``names``: file names as the authors publish them (empty: unknown, use ``DIR/<tag>/``);
    ``sha256``: the published digest of that file, or None; ``note``: where the name comes from.
    """

    names: tuple[str, ...] = ()
    sha256: str | None = None
    note: str = ""


#: Commit of each source repository the ports (and their golden fixtures, tests/fixtures/official) were
#: checked against; the reported accuracies were read from the README / paper at these commits.
SOURCE_COMMITS: dict[str, str] = {
    "fangwei123456/Spike-Element-Wise-ResNet": "cfc547c5e8196b1a16ebc596509b4dffea7c306f",
    "Intelligent-Computing-Research-Group/BKDSNN": "dd6bd539479d4f3ce70836084be0f64d86060824",
    "Maybe2022/SAKD": "70c761d5787de23bd5e4d0c89276d3ac0441fb81",
    "ZK-Zhou/spikformer": "621268981827af47aa666c1b5f774de4281d90ad",
    "zhouchenlin2096/Spikingformer": "4378623b82bb1999b137244950ad648566e148fd",
    "zhouchenlin2096/QKFormer": "c2a00e8e54538e76f5954614a60c1d53824bbee9",
    "BICLab/Spike-Driven-Transformer": "3faa82272eb499e4d56ea77707d4536e7c69a54b",
    "BICLab/Spike-Driven-Transformer-V2": "35f245f4f79acf1a2b3ef22698c58ab05c1ede33",
}

_FIGSHARE = "figshare file name (SEW train.py, epoch 319)"
AUTHORS_FILES: dict[str, AuthorsFile] = {
    **{
        f"sew_resnet{d}.sew_in1k": AuthorsFile((f"sew{d}_checkpoint_319.pth",), note=_FIGSHARE)
        for d in (18, 34, 50, 101, 152)
    },
    **{
        f"spiking_resnet{d}.sew_in1k": AuthorsFile((f"spiking_resnet_{d}_checkpoint_319.pth",), note=_FIGSHARE)
        for d in (18, 34, 50)
    },
    "meta_spikeformer_55m.official_kd_in1k": AuthorsFile(
        ("55M_kd_T4.pth",), note="Google Drive folder of the Spike-Driven-Transformer-V2 README"
    ),
}


def authors_file(tag: str) -> AuthorsFile:
    """The manifest entry of ``tag`` (an empty entry for a ported tag without known names)."""
    return AUTHORS_FILES.get(tag, AuthorsFile(note="the download page gives no file name"))


def dataset_key(info: Mapping[str, object]) -> str:
    """'imagenet' | 'cifar10' | 'cifar100': the sub-folder of ``--data-dir`` a ported tag is re-validated on."""
    name = str(info["dataset"]).lower()
    if name.startswith("imagenet"):
        return "imagenet"
    if name.startswith("cifar-100"):
        return "cifar100"
    if name.startswith("cifar-10"):
        return "cifar10"
    raise ValueError(f"no validation-set folder is defined for dataset {info['dataset']!r}.")
