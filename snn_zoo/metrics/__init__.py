"""Measurements on spiking models."""
from .spikes import SpikeCounter, count_spikes
from .energy import EnergyReport, energy_report

__all__ = ["SpikeCounter", "count_spikes"]
