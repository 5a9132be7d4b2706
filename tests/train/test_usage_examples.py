"""Every script's ``--help`` is a manual, and the usage examples it and README show cannot go stale.

- distill.py's examples (its ``--help``) and every README command that runs distill.py are run with
  ``--print-plan``: the recipe files exist, the flags parse, the data resolves and the plan is made.
- Every other script's examples (its ``--help`` and README's) are parsed by that script's own parser (the
  example's arguments followed by ``--help``, so argparse checks each flag and value before printing help).
- Every option of every script says what it does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.name for p in (ROOT / "hub_scripts").glob("*.py"))
_COMMAND = re.compile(r"(?:accelerate launch(?: --?[\w-]+(?: [\w.]+)?)*|python3?) (hub_scripts/\w+\.py)(.*)$")


def _load(script: str):
    spec = importlib.util.spec_from_file_location(f"script_{script[:-3]}", ROOT / "hub_scripts" / script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in a script look their module up there
    spec.loader.exec_module(module)
    return module


def _call(script: str, argv: list[str]) -> tuple[int, str]:
    """Run a script's main() in-process with ``argv``; (exit code, stdout)."""
    module = _load(script)
    out = io.StringIO()
    old = sys.argv
    sys.argv = [script, *argv]
    try:
        with contextlib.redirect_stdout(out):
            try:
                code = module.main(argv) if module.main.__code__.co_argcount else module.main()
            except SystemExit as e:
                code = e.code or 0
    finally:
        sys.argv = old
    return code, out.getvalue()


def _examples(text: str) -> list[tuple[str, list[str]]]:
    """(script, args) of every command line in ``text`` that runs a hub script."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#")[0].strip().lstrip("$ ").strip()
        if "&&" in line:
            line = line.split("&&")[-1].strip()
        m = _COMMAND.search(line)
        if m:
            found.append((Path(m.group(1)).name, shlex.split(m.group(2))))
    return found


def _help_examples() -> list[tuple[str, list[str]]]:
    return [ex for script in SCRIPTS for ex in _examples(_call(script, ["--help"])[1]) if ex[0] == script]


def _readme_examples() -> list[tuple[str, list[str]]]:
    """Commands in README's shell code blocks (prose mentions in backticks are not commands)."""
    blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return _examples("\n".join(blocks))


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8), "L").save(
                    root / split / label / f"{i}.png"
                )
    return root


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_option_says_what_it_does(script):
    parser_text = _call(script, ["--help"])[1]
    assert parser_text.startswith("usage:"), parser_text[:200]
    entries = re.split(r"\n  (?=-)", parser_text.split("options:", 1)[-1])[1:]
    assert entries, f"{script} --help lists no options"
    for entry in entries:
        flag, _, rest = entry.partition("  ")
        text = " ".join((rest + " " + "\n".join(entry.splitlines()[1:])).split())
        assert len(text.split()) >= 3, f"{script}: {flag.split()[0]} has no help text"
        assert "(recipe field" not in text


def test_distill_examples_run(distill_main, image_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    examples = [a for s, a in _help_examples() + _readme_examples() if s == "distill.py" and "--help" not in a]
    assert len(examples) >= 4, examples
    for args in examples:
        args = [str(image_folder) if a in ("DATA", "D") else a for a in args]
        args = [a for a in args if a != "--resume"]
        assert distill_main([*args, "--print-plan"]) == 0, (args, capsys.readouterr().err)
        assert "precision" in capsys.readouterr().out


def test_other_examples_parse():
    examples = [(s, a) for s, a in _help_examples() + _readme_examples() if s != "distill.py"]
    assert examples
    for script, args in examples:
        code, _ = _call(script, [*args, "--help"])
        assert code == 0, (script, args)


def test_default_student_is_sized_to_the_users_data(distill_main, image_folder, capsys):
    """An ImageFolder run that names no model gets a student and teacher chosen from its input size, and says why;
    the embedded digits keep the zoo default."""
    assert distill_main(["--dataset", "imagefolder", "--data-dir", str(image_folder), "--print-plan"]) == 0
    out = capsys.readouterr().out
    assert "model choice    student spiking_cnn_small, teacher spiking_cnn_base" in out and "1x28x28" in out
    assert (
        distill_main(["--dataset", "imagefolder", "--data-dir", str(image_folder), "--img-size", "8", "--print-plan"])
        == 0
    )
    out = capsys.readouterr().out
    assert "student sew_resnet10_digits" in out  # 8x8 images afford a deeper student under the same budget
    assert distill_main(["--print-plan"]) == 0
    out = capsys.readouterr().out
    assert "student         spiking_cnn_small" in out and "embedded" in out
