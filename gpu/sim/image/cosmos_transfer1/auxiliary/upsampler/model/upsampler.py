"""Simulated image: the stand-in for Cosmos Transfer 1's Pixtral prompt upsampler."""

from gpu.sim.upsampler import PixtralPromptUpsampler

__all__ = ["PixtralPromptUpsampler"]
