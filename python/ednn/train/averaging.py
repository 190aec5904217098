"""What the tiles of an exported density network average (``ednn export --average``).

A :class:`~ednn.train.networks.DensityCNN` sums one per-pixel energy density over each tile's focus.
Exported, each tile can average that density over its pixel phases (exact under whole-pixel
shifts), over its mirror images (exact under the mirrors and the 180° turn), both, or neither; each
average multiplies the network evaluations per tile (:func:`ednn.torch.averaged` builds it).
"""

from __future__ import annotations

__all__ = ["AVERAGES", "DESCRIPTIONS"]

#: ``average`` of :func:`~ednn.train.export.export_checkpoint`: what a density network's tiles average, and the network
#: evaluations per tile that costs.
AVERAGES = {"all": 16, "phases": 4, "mirrors": 4, "none": 1}


#: What each average keeps exactly (``ednn.averaging`` in the file).
DESCRIPTIONS = {
    "all": "each tile averages its pixel phases and mirror images (exact under whole-pixel shifts and mirrors)",
    "phases": "each tile averages its pixel phases (exact under whole-pixel shifts; mirrors as learned)",
    "mirrors": "each tile averages its mirror images (exact under mirrors and shifts by whole strides; "
               "sub-stride shifts as learned)",
    "none": "one evaluation per tile (exact under shifts by whole strides; sub-stride shifts and mirrors as learned)",
}
