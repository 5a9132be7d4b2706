#!/usr/bin/env python
"""Publish a run folder to the Hugging Face Hub (or stage it locally with --dry-run).

    python hub_scripts/push_to_hub.py RUN_DIR --repo-id ORG/NAME [--private] [--revision REV]
        [--dry-run [DIR]] [--commit-message MSG]

RUN_DIR holds model.safetensors + config.json (written by snn_zoo.save_pretrained or
hub_scripts/distill.py) and optionally results.json (the model card is rendered from it),
README.md, *.png and *.csv. Pickles (optimizer.bin, pytorch_model.bin, ...) are never uploaded.
A symbolic link is uploaded as its target only when the target lies inside RUN_DIR; a link leaving it
(or a broken one) is refused by name before anything is staged.
The token comes from HF_TOKEN or `hf auth login`; it is never printed.

Exit status: 0 on success, 2 when the checkpoint or the Hub refuses (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

try:
    import snn_zoo  # noqa: F401
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DRY_RUN = "hub_upload"  # RUN_DIR/hub_upload, owned (and replaced) by this script
_DEFAULT = object()


def _human(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError


def _one_line(text: str, token: str | None) -> str:
    """The message on one line (torch lists size mismatches on many), the token masked."""
    text = " ".join(text.split())
    return text.replace(token, "***") if token else text


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="run folder with model.safetensors + config.json")
    parser.add_argument(
        "--repo-id", required=True, help="target repo, ORG/NAME (e.g. snn-zoo/spiking_cnn_tiny.t2_digits)"
    )
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--revision", default=None, help="branch to commit to (created from main if missing)")
    parser.add_argument(
        "--dry-run",
        nargs="?",
        const=_DEFAULT,
        default=None,
        metavar="DIR",
        help=f"write the exact upload folder (default RUN_DIR/{DEFAULT_DRY_RUN}) and upload nothing",
    )
    parser.add_argument("--commit-message", default="Add snn_zoo checkpoint", help="title of the Hub commit")
    return parser.parse_args(argv)


def _dry_run_folder(args) -> Path:
    """The folder a dry run stages into: refused if it is a link, a file, or someone else's non-empty folder."""
    from snn_zoo.hub import CheckpointError

    out = args.run_dir / DEFAULT_DRY_RUN if args.dry_run is _DEFAULT else Path(args.dry_run)
    if out.is_symlink():  # never write through (or empty) a link the script did not make
        raise CheckpointError(
            f"Dry-run folder {str(out)!r} is a symbolic link (to {os.readlink(out)!r}); remove the link "
            f"or pass --dry-run DIR with a new or empty folder."
        )
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"Dry-run folder {str(out)!r} is a file; remove it or pass --dry-run DIR.")
    if args.dry_run is _DEFAULT:
        if out.is_dir():
            shutil.rmtree(out)  # our own folder from an earlier dry run: start clean
    elif out.exists() and any(out.iterdir()):
        raise CheckpointError(f"Dry-run folder {str(out)!r} exists and is not empty; pass a new or empty DIR.")
    return out


def _dry_run(args, skipped: list[str]) -> int:
    """Stage what would be uploaded into the dry-run folder and list it; uploads nothing."""
    from snn_zoo.hub import push_to_hub

    out = _dry_run_folder(args)
    created = not out.exists()
    try:
        push_to_hub(
            args.run_dir,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            commit_message=args.commit_message,
            dry_run_dir=out,
        )
    except BaseException:
        if created:  # leave no half-staged folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    files = sorted(p for p in out.iterdir() if p.is_file())
    print(
        f"Dry run: would upload {len(files)} files to {args.repo_id}"
        f"{'@' + args.revision if args.revision else ''} from {out}:"
    )
    width = max(len(p.name) for p in files)
    for p in files:
        size = p.stat().st_size
        print(f"  {p.name:<{width}}  {size:>10} bytes  ({_human(size)})")
    if skipped:
        print(f"Left out (stay on your disk): {', '.join(skipped)}")
    print("Nothing was uploaded.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from huggingface_hub import get_token
    from huggingface_hub.errors import HfHubHTTPError

    from snn_zoo.hub import CheckpointError, PushError, check_repo_id, left_out, push_to_hub

    token = None
    try:
        if not args.run_dir.is_dir():  # before anything creates RUN_DIR/hub_upload (and with it RUN_DIR)
            raise CheckpointError(f"Run folder {str(args.run_dir)!r} does not exist.")
        check_repo_id(args.repo_id)
        skipped = [name for name in left_out(args.run_dir) if not name.startswith(f"{DEFAULT_DRY_RUN}/")]
        if args.dry_run is not None:
            return _dry_run(args, skipped)
        token = get_token()
        url = push_to_hub(
            args.run_dir,
            args.repo_id,
            token=token,
            private=args.private,
            revision=args.revision,
            commit_message=args.commit_message,
        )
        if skipped:
            print(f"Left out (not uploaded): {', '.join(skipped)}")
        print(url)
        return 0
    except (CheckpointError, PushError) as e:
        print(f"error: {_one_line(str(e), token)}", file=sys.stderr)
        return 2
    except HfHubHTTPError as e:  # 401/403/404 from the Hub: the first line says what happened
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"error: the Hub refused the push to {args.repo_id!r}: {_one_line(first, token)}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a full disk while staging (snn_zoo.io.NoSpaceError names the path)
        print(f"error: {_one_line(str(e), token)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
