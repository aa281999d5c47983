"""Run the main job on the built-in default (no downloads, no GPU): ``python demo.py [--guidance W]``.

The stock samplers and ours on the analytic guided model; prints a table and writes pictures to
out/: grid.png (rendered samples vs steps), error_w1.png / error_w7.5.png / error_w15.png and
help/<sampler>.png. ``--publish`` copies them to docs/images/ and web/docs/, where the README and
the node help pages embed them.
"""

import argparse
import runpy
from pathlib import Path

if __name__ == "__main__":
    root = Path(__file__).resolve().parent
    runpy.run_path(str(root / "_package.py"))["load_package"]()
    from momentum_samplers.testbed.demo import main

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guidance", type=float, default=15.0, help="classifier-free guidance of the grid and table")
    parser.add_argument("--out", default="out", help="output folder")
    parser.add_argument("--publish", action="store_true", help="also copy the figures to docs/images/ and web/docs/")
    args = parser.parse_args()
    main(args.out, args.guidance, publish_to=root if args.publish else None)
