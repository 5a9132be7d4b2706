"""Measurements on spiking models."""
from .spikes import SpikeCounter, count_spikes

__all__ = ["SpikeCounter", "count_spikes"]
