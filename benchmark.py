"""Benchmarks (scripts, not timed tests):

- ``python benchmark.py core``: overhead, memory, accuracy and divergence of the deterministic samplers;
- ``python benchmark.py stochastic [--guidance 1|7.5] [--schedule S] [--quick]``: distribution distance and
  spread vs NFE of the stochastic samplers, against ComfyUI's own when ``COMFYUI_PATH`` names a checkout;
- ``python benchmark.py allround [--bed analytic|learned|both] [--quick] [--extra MODULE:FUNCTION]``:
  the ranking of every deterministic sampler over many schedules, guidances and NFEs, on the analytic
  and the learned test bed, against ComfyUI's own samplers when ``COMFYUI_PATH`` names a checkout;
- ``python benchmark.py publish [--check]``: rewrite every ``<!-- generated: NAME -->`` block of
  README.md, docs/*.md and docs/help/*.md from the results in docs/results/, then the help pages
  (testbed/published.py); ``--check`` only lists what is stale;
- ``python benchmark.py train-learned``: rebuild the learned test bed's weights
  (testbed/learned_digits.safetensors) deterministically;
- ``python benchmark.py train-conv``: rebuild the convolutional learned test bed's weights
  (testbed/learned_conv.safetensors) deterministically.
"""

import argparse
import importlib
import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).resolve().parent / "_package.py"))["load_package"]()
    if sys.argv[1:2] in (["allround"], ["stochastic"]):  # their own options, --help included
        importlib.import_module(f"momentum_samplers.testbed.bench_{sys.argv[1]}").main(sys.argv[2:])
        sys.exit(0)
    if sys.argv[1:2] == ["publish"]:
        published = importlib.import_module("momentum_samplers.testbed.published")
        if sys.argv[2:] == ["--check"]:
            problems = published.stale()
            print("\n".join(problems) or "every generated block is up to date")
            sys.exit(1 if problems else 0)
        for path in published.publish():
            print("rewrote", path.relative_to(published.ROOT))
        runpy.run_path(str(Path(__file__).resolve().parent / "tools" / "help_pages.py"))["write"]()
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["core", "stochastic", "allround", "publish", "train-learned", "train-conv"])
    args = parser.parse_args()
    if args.which == "train-learned":
        importlib.import_module("momentum_samplers.testbed.learned").main()
    elif args.which == "train-conv":
        importlib.import_module("momentum_samplers.testbed.learned_conv").main()
    else:
        importlib.import_module(f"momentum_samplers.testbed.bench_{args.which}").main()
    sys.exit(0)
