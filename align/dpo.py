"""Targeted DPO on MiJaBench-Align preference pairs (TRL ``DPOTrainer`` + PEFT LoRA).

    python align/dpo.py --config align/configs/dpo_smollm2_cpu.yaml            # offline CPU demo
    python align/dpo.py --config align/configs/dpo_llama1b_gpu.yaml            # the paper-scale run
    accelerate launch --config_file align/configs/accelerate_multi_gpu.yaml \\
        align/dpo.py --config align/configs/dpo_llama1b_gpu.yaml               # DDP, unchanged

Every TRL ``DPOConfig``/``ModelConfig`` flag works (``--beta``, ``--lora_r``, ``--max_length``...),
plus ``--held_out_groups``, ``--held_out_strategies``, ``--merge_adapter`` and ``--base_model_id``;
command-line flags override the config file. See align/README.md. The logic lives in
``mijabench.train.dpo`` so that tests, the CLI and this script run the same code.
"""

import logging
import sys

from mijabench.train.dpo import main
from mijabench.errors import MijaError

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        main()
    except MijaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
