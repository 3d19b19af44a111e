"""Simulated image: a stand-in package path of Cosmos Transfer 1 (see gpu.sim)."""
