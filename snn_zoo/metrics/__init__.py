"""Measurements on spiking models: spike counts, firing rates, synaptic operations and energy."""

from .energy import EnergyReport, energy_report
from .spikes import SpikeCounter, count_spikes

__all__ = ["EnergyReport", "SpikeCounter", "count_spikes", "energy_report"]
