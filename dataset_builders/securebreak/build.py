"""Thin entry point for the SecureBreak Hub dataset; all logic is in ``mijabench.derived.securebreak``.

    python dataset_builders/securebreak/build.py --input annotated.csv --mapping mapping.yaml --out build/securebreak
    python dataset_builders/securebreak/build.py --mijabench-align runs/smollm2-quick --out build/securebreak-judge
    # same as: mijabench build securebreak ...
"""

import sys

from mijabench.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "build", "securebreak", *sys.argv[1:]]
    main()
