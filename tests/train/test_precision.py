"""``mixed_precision: auto``: bf16 only where the CPU has AMX (AVX512-BF16 alone measured slower), fp32 elsewhere."""

import pytest

from snn_zoo.train import precision


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(("amx_bf16", "avx512_bf16"), "bf16"), (("amx_bf16",), "bf16"), (("avx512_bf16",), "no"), ((), "no")],
)
def test_auto_picks_bf16_only_with_amx(monkeypatch, flags, expected):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: flags)
    value, reason = precision.resolve_mixed_precision("auto", use_cuda=False)
    assert value == expected and reason.startswith("auto: ")
    # The line names the one flag that decides (amx_bf16), never the others it did not use.
    assert "amx_bf16" in reason and "avx512" not in reason


def test_explicit_values_are_kept():
    assert precision.resolve_mixed_precision("bf16", use_cuda=False) == ("bf16", "set in the recipe")
    assert precision.resolve_mixed_precision("no", use_cuda=False)[0] == "no"
