"""The random CLIP of tools/make_models.py under A1111's default emphasis, without a host (needs only
torch and transformers, so it runs in CI).

A1111 1.10's "Original" emphasis multiplies the text embedding z by the per-token weights, then
rescales it by old_mean / new_mean (means over the whole embedding). With a default final LayerNorm
(weight 1, bias 0) every token's output has zero mean, so that is 0 / 0 and every image was NaN.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="transformers is not installed: the CLIP part of "
                                   "tools/make_models.py cannot be built")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_models", ROOT / "tools" / "make_models.py")
mm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mm)

# CLIP-L's layout at a small width; the final LayerNorm is what matters here, not the width
CONFIG = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              vocab_size=49408, max_position_embeddings=77)
PROMPT_TOKENS = 7  # "a red house by a lake", the A1111 image tests' prompt: 6 words, BOS, EOS


def prompt_ids() -> torch.Tensor:
    """BOS, the prompt's tokens, EOS, padded with EOS to 77 as A1111 does."""
    words = torch.randint(0, 49406, (PROMPT_TOKENS - 1,), generator=torch.Generator().manual_seed(0))
    return torch.cat([torch.tensor([49406]), words, torch.full((77 - PROMPT_TOKENS,), 49407)])[None]


def original_emphasis(z: torch.Tensor, multipliers: torch.Tensor) -> torch.Tensor:
    """modules/sd_emphasis.py EmphasisOriginal.after_transformers, A1111 1.10."""
    original_mean = z.mean()
    z = z * multipliers.reshape(multipliers.shape + (1,)).expand(z.shape)
    new_mean = z.mean()
    return z * (original_mean / new_mean)


def embedding(clip) -> torch.Tensor:
    with torch.no_grad():
        return clip(input_ids=prompt_ids()).last_hidden_state.to(torch.float16).float()


@pytest.mark.parametrize("weight", [1.0, 1.1])  # plain prompt, and one word "(emphasised)"
def test_original_emphasis_is_finite_and_bounded_on_the_made_clip(weight):
    clip = mm.clip_text_model(transformers.CLIPTextConfig(**CONFIG), seed=2)
    z = embedding(clip)
    multipliers = torch.ones(1, 77)
    multipliers[0, 2] = weight
    out = original_emphasis(z, multipliers)
    assert torch.isfinite(out).all()
    assert 0.2 < abs(float(z.mean())) < 1.0  # the bias around 0.5 keeps the mean away from 0
    ratio = (out - z).abs().max() / z.abs().max()
    assert ratio < 0.15  # at most the 10 % weight and the rescale's small change


def test_the_default_final_norm_is_what_broke_it():
    # the check above could not pass on the old files: their embedding's mean is zero
    torch.manual_seed(2)
    clip = transformers.CLIPTextModel(transformers.CLIPTextConfig(**CONFIG))
    z = embedding(clip)
    assert abs(float(z.mean())) < 1e-3
    assert abs(float(z.mean())) < 1e-3 * float(z.abs().mean())


def test_the_final_norm_is_seeded():
    a = mm.clip_text_model(transformers.CLIPTextConfig(**CONFIG), seed=2)
    b = mm.clip_text_model(transformers.CLIPTextConfig(**CONFIG), seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
