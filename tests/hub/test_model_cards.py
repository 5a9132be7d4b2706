"""Every pretrained tag has a generated card in model_cards/; README's ported table reads its status from them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from huggingface_hub import metadata_load

import snn_zoo
from snn_zoo.hub.card import NOT_REVALIDATED, card_status, is_release_card, render_ported_card
from snn_zoo.hub.port import ann_twin_macs, ported_results
from snn_zoo.models import ported_weights

REPO_ROOT = Path(__file__).resolve().parents[2]
CARDS = REPO_ROOT / "model_cards"


@pytest.mark.parametrize("tag", snn_zoo.list_pretrained())
def test_every_pretrained_tag_has_a_card(tag):
    card = CARDS / f"{tag}.md"
    assert card.is_file(), f"no card for {tag}: run python hub_scripts/make_model_cards.py"
    text = card.read_text(encoding="utf-8")
    meta = metadata_load(card)
    assert meta["library_name"] == "timm" and meta["license"] and f"# {tag}" in text
    if tag in ported_weights():
        info = ported_weights()[tag]
        status = card_status(text)
        assert status == NOT_REVALIDATED or status.startswith("re-validated on "), status
        for needle in (info["origin_url"], f"{info['top1']:.2f}", "pretrained_cfg_overlay=dict(file=", "ANN-twin MACs"):
            assert needle in text, (tag, needle)
        assert f"hub_scripts/port_official.py {tag}" in text and "hub_scripts/release.py" in text


def test_ported_card_is_generated_from_the_registry():
    tag = "spikformer_4_384_cifar.official_cifar10"
    text = (CARDS / f"{tag}.md").read_text(encoding="utf-8")
    if not is_release_card(text):  # else release.py wrote it from the authors' file
        assert card_status(text) == NOT_REVALIDATED and text == render_ported_card(ported_results(tag))
    assert "621268981827af47aa666c1b5f774de4281d90ad" in text  # the source commit of the reported number


def test_twin_macs_match_the_energy_report():
    from snn_zoo.metrics import energy_report

    twin = snn_zoo.create_model("spikformer_2_64_digits", neuron="relu", T=1).eval()
    assert ann_twin_macs("spikformer_2_64_digits", (1, 8, 8)) == energy_report(twin, torch.rand(1, 1, 8, 8)).ann_macs


def test_readme_ported_table_status_comes_from_the_cards():
    spec = importlib.util.spec_from_file_location("model_table_cards", REPO_ROOT / "hub_scripts" / "model_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for tag in ported_weights():
        status = card_status((CARDS / f"{tag}.md").read_text(encoding="utf-8"))
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{tag}` |"))
        assert row.endswith(f"| [{status}](model_cards/{tag}.md) |"), row
        assert table.card_status_of(tag) in row
