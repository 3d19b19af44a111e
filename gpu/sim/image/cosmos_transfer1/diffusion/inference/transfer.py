"""Simulated image: runs gpu.sim.transfer, the stand-in for Cosmos Transfer 1's transfer.py."""

from gpu.sim.transfer import main

raise SystemExit(main())
