"""Shaped after A1111 1.10.1 ``modules/rng.py`` ``ImageRNG``: one seeded generator per image."""

import torch


class ImageRNG:
    def __init__(self, shape, seeds, subseeds=None, subseed_strength=0.0, seed_resize_from_h=0, seed_resize_from_w=0):
        self.shape = tuple(map(int, shape))
        self.seeds = seeds
        self.generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        self.is_first = True

    def next(self):
        if self.is_first:  # the real first() draws through randn(seed, ...), which seeds torch globally
            self.is_first = False
            for seed in self.seeds:
                torch.manual_seed(int(seed))
        return torch.stack([torch.randn(self.shape, generator=g) for g in self.generators])
