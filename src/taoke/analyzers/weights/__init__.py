"""Weight lineage statistics: basis-free invariants, alignment, layer maps and their nulls.

The modules here compute numbers; :mod:`taoke.compare` orchestrates them and :mod:`taoke.verdict`
turns them into a relationship. See ``docs/compare.md`` for the method and its calibration.
"""
