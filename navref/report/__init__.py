"""Report library: the paper's numbers (:mod:`.paper`), Tab. 1-3 beside ours (:mod:`.tables`),
the figures (:mod:`.figures`) and the claims check (:mod:`.claims`).

Time convention: t in [0, 1], t = 0 is noise, t = 1 is data.
"""
