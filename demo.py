"""Run the main job on the built-in default (no downloads, no GPU): ``python demo.py [--guidance W]``.

Every sampler on the analytic guided model; prints a table, writes out/demo.png and out/demo.json.
"""

import argparse
import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).resolve().parent / "_package.py"))["load_package"]()
    from momentum_samplers.testbed.demo import main

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guidance", type=float, default=12.0, help="classifier-free guidance scale")
    parser.add_argument("--out", default="out", help="output folder")
    args = parser.parse_args()
    main(args.out, args.guidance)
