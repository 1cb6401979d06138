"""Constants of the splatting footprint (SPEC section 3)."""

SIGMA_S = 1.3
"""Standard deviation (px) of the Gaussian footprint g that sets the opacity."""

SIGMA_LAM = 0.71
"""Scale (px) of the flat-topped super-Gaussian that sets the data weight lam."""

LAM_ORDER = 2
"""Order p of the super-Gaussian exp(-(r^2 / (2 sigma_lam^2))^p)."""

KAPPA = 15.5
"""Opacity scale: a = 1 - exp(-KAPPA * g)."""

WINDOW_RADIUS = 3
"""Half side of the square window: pixels q with |q - round(xy)| <= 3 in x and in y (7x7)."""

LAM_EXPONENT_CUTOFF = 40.0
"""The fast paths take exp(-(r^2 / (2 sigma_lam^2))^2) as 0 where the exponent exceeds this
(the factor is then below 5e-18, r > 2.5 px), which saves most of its evaluations."""
