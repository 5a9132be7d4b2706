#!/usr/bin/env python
"""Publish every pretrained tag to the Hub in one resumable command (the logic is snn_zoo.hub.release).

    python hub_scripts/release.py --from DIR [--data-dir D] [--dry-run] [--only PATTERN ...]
        [--accept-drop] [--margin 1.0] [--work runs/release] [--zoo-dir checkpoints] [--cards model_cards]

DIR holds the authors' files, named as the authors name them (see snn_zoo/models/_authors_files.py),
or one per tag as DIR/<tag>.pth or DIR/<tag>/<any name>. D holds one validation ImageFolder per dataset:
D/imagenet, D/cifar10, D/cifar100 (each may be D/<name>/val). Each ported tag is found, checked (SHA-256
where the manifest has one), ported, re-validated when its data is there (a top-1 more than --margin
points off the authors', below or above, is not pushed without --accept-drop), its card written to --cards, and its
folder pushed to snn-zoo/<tag>; the zoo's own tags are pushed from --zoo-dir. A repo whose remote files
already match is skipped, so a rerun after a crash finishes the rest. Ends with a table of every tag.

Exit status: 0 when nothing was refused, 1 when some tag was refused or failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import snn_zoo  # noqa: F401
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from snn_zoo.hub.release import DEFAULT_MARGIN

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--from", dest="from_dir", type=Path, required=True, help="folder holding the authors' checkpoint files"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="D/imagenet, D/cifar10, D/cifar100 val folders")
    parser.add_argument("--dry-run", action="store_true", help="find, port, validate and stage; upload nothing")
    parser.add_argument(
        "--only", nargs="+", default=None, metavar="PATTERN", help="release only these tags (wildcards allowed)"
    )
    parser.add_argument(
        "--accept-drop", action="store_true", help="push even when top-1 is more than --margin off the reported"
    )
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="allowed top-1 shortfall in points")
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "runs" / "release",
        help="where the ported folders are kept (reused on rerun)",
    )
    parser.add_argument("--zoo-dir", type=Path, default=ROOT / "checkpoints", help="run folders of the zoo's own tags")
    parser.add_argument("--cards", type=Path, default=ROOT / "model_cards", help="where ported tags' cards go")
    parser.add_argument("--device", default=None, help="re-validation device (default: cuda if available)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per re-validation batch")
    parser.add_argument("--workers", type=int, default=4, help="data-loading worker processes")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from snn_zoo.hub.push import PushError
    from snn_zoo.hub.release import release, release_table
    from snn_zoo.io import CheckpointError

    try:
        rows = release(
            args.from_dir,
            args.work,
            data_dir=args.data_dir,
            zoo_dir=args.zoo_dir,
            cards_dir=args.cards,
            dry_run=args.dry_run,
            only=args.only,
            accept_drop=args.accept_drop,
            margin=args.margin,
            device=args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
            batch_size=args.batch_size,
            workers=args.workers,
        )
    except (CheckpointError, PushError, ValueError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print()
    print(release_table(rows), end="")
    if args.dry_run:
        print("Dry run: nothing was uploaded.")
    return 1 if any(r.refused for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
