"""Bounds on what one experiment may ask for; the server's settings can tighten them."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Limits:
    max_layers: int = 12
    max_units: int = 64  # of a dense layer on 2-D points: the page draws each neuron
    max_image_units: int = 128  # of a dense layer in an image network (LeNet-5 has 120)
    max_samples: int = 10_000
    max_epochs_per_call: int = 100_000
    max_params: int = 1_000_000  # trainable parameters of one network
    # multiply-adds of one forward pass over all the data: an epoch ends with one, which
    # holds its training process (and every experiment sharing it) until done
    max_pass_mults: int = 10_000_000_000

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


DEFAULT_LIMITS = Limits()
