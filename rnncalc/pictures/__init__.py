"""Pictures of a trace, hand-written SVG (no plotting library): the unrolled network, the cell at
one step, heatmaps over time, the gradient norm per step; and the HTML report that holds them.

Pure functions of the trace, as the other renderers: nothing is recomputed here.
"""
