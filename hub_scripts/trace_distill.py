#!/usr/bin/env python3
"""Trace which snn_zoo files one distill run enters, in order: a measure of how often control bounces between files.

    python hub_scripts/trace_distill.py --epochs 1 --teacher-epochs 1 --max-steps-per-epoch 2 --log-with none

Records every call made from the run's orchestration (hub_scripts/distill.py and snn_zoo/train/) into another
file of this checkout (snn_zoo/ or hub_scripts/), collapses repeats of the same file in a row, and prints the
sequence with its count of distinct files and of returns to a file already left. The remaining arguments are
distill.py's; the run writes to a temporary folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rel(filename: str) -> str | None:
    path = Path(filename).resolve()
    if ".venv" in path.parts or not path.is_relative_to(ROOT):
        return None
    rel = path.relative_to(ROOT).as_posix()
    return rel if rel.startswith(("snn_zoo/", "hub_scripts/")) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace-quiet", action="store_true", help="print only the counts, not the file sequence")
    args, distill_args = parser.parse_known_args(argv)  # everything else is distill.py's
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("distill_script", ROOT / "hub_scripts" / "distill.py")
    distill = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(distill)
    sequence: list[str] = []

    def profile(frame, event, _arg):
        if event != "call" or frame.f_back is None:
            return
        callee, caller = _rel(frame.f_code.co_filename), _rel(frame.f_back.f_code.co_filename)
        from_run = caller is not None and caller.startswith(("snn_zoo/train", "hub_scripts/distill"))
        if callee and from_run and callee != caller and (not sequence or sequence[-1] != callee):
            sequence.append(callee)

    with tempfile.TemporaryDirectory() as out:
        sys.setprofile(profile)
        try:
            code = distill.main([*distill_args, "--output", str(Path(out) / "run")])
        finally:
            sys.setprofile(None)
    seen: set[str] = set()
    returns = 0
    for name in sequence:
        returns += name in seen
        seen.add(name)
    if not args.trace_quiet:
        print("\n".join(f"  {name}" for name in sequence))
    print(f"distill exit {code}: {len(seen)} files, {len(sequence)} entries, {returns} returns to a file already left")
    return code


if __name__ == "__main__":
    sys.exit(main())
