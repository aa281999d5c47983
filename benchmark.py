"""Benchmarks (scripts, not timed tests): ``python benchmark.py core`` (overhead, memory, accuracy and
divergence of the deterministic samplers) or ``python benchmark.py stochastic`` (distribution
distance and spread vs NFE of the stochastic samplers)."""

import argparse
import importlib
import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).resolve().parent / "_package.py"))["load_package"]()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("which", choices=["core", "stochastic"])
    args = parser.parse_args()
    importlib.import_module(f"momentum_samplers.testbed.bench_{args.which}").main()
