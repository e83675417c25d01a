"""Thin entry point for the MiJaBench-Align Hub dataset; all logic is in ``mijabench``.

    python dataset_builders/mijabench_align/build.py --runs runs/smollm2 runs/llama --out build/mijabench-align
    # same as: mijabench build mijabench-align ...
"""

import sys

from mijabench.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "build", "mijabench-align", *sys.argv[1:]]
    main()
