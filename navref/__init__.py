"""navref: reproduce "From Navigation to Refinement" (arXiv:2512.02826).

Time convention throughout the package (Lipman et al.): t in [0, 1], t = 0 is the
Gaussian prior (noise) and t = 1 is the data; x_t = (1 - t) x0 + t x1.
"""

__version__ = "0.1.0"
