"""snn_zoo.hub.card: the run card's figures are readable (thousands separators, n/a when missing)."""

from snn_zoo.hub import render_model_card


def _results(**over):
    base = {
        "name": "spiking_cnn_small.none_t4_digits",
        "model": "spiking_cnn_small",
        "dataset": "digits",
        "method": "none",
        "T": 4,
        "epochs": 40,
        "seed": 0,
        "top1": 99.17,
        "top5": 100.0,
        "teacher": None,
        "teacher_top1": None,
        "mean_firing_rate": 0.0575,
        "sops_per_image": 2544636.0,
        "train_seconds": 10.0,
        "param_count": 163522,
        "energy_mj_per_image": 1e-4,
        "ann_energy_mj_per_image": 1e-3,
    }
    return {**base, **over}


def test_card_figures_carry_thousands_separators():
    card = render_model_card(_results())
    assert "| Synaptic operations per image | 2,544,636 |" in card
    assert "2,544,636 synaptic operations per image" in card  # the headline, beside top-1
    assert "| Parameters | 163,522 |" in card


def test_card_says_n_a_for_a_figure_the_run_did_not_measure():
    card = render_model_card(_results(sops_per_image=None, top5=None))
    assert "| Synaptic operations per image | n/a |" in card and "| Top-5 accuracy (%) | n/a |" in card
