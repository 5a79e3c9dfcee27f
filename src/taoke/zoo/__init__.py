"""taoke's ground-truth zoo: small LLaMA-family models trained on real text, and labelled derivatives.

Python API (what tests, ``bench/accuracy.py`` and ``taoke demo`` use)::

    from taoke import zoo
    for pair in zoo.manifest():            # >= 40 labelled (reference, suspect) pairs
        ref = zoo.materialize(pair["reference"])   # a HF folder, or a .gguf file
        sus = zoo.materialize(pair["suspect"])
    zoo.calibration_pairs()                # 45 independent same-architecture pairs (for FPR)
    zoo.ground_truth("a-obf-all")          # the permutations / rotation that were applied

Trained checkpoints are committed under ``taoke/zoo/data`` (float16); everything else is a numpy step
made on demand into ``TAOKE_ZOO_DIR`` (default ``$TAOKE_HOME/zoo``, see :mod:`taoke.paths`). torch is
only needed to retrain (``python -m taoke.zoo train``) and for the one derivative marked
``requires_training``.
"""

from taoke.zoo.build import cache_dir, ground_truth, materialize
from taoke.zoo.pairs import calibration_models, calibration_pairs, corpora, data_path, manifest, models

__all__ = [
    "cache_dir",
    "calibration_models",
    "calibration_pairs",
    "corpora",
    "data_path",
    "ground_truth",
    "manifest",
    "materialize",
    "models",
]
