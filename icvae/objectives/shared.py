"""Settings that several model families read: each defined once, here.

A family lists the ones it uses in its `ModelFamily.settings`; `icvae.objectives.register`
checks that a name shared by two families is the same `Setting`.
"""

from icvae import settings as settings_lib
from icvae.settings import Setting

NUM_CATEGORIES = Setting('num_categories', 10, 'K, the number of categories.',
                         check=settings_lib.at_least(1), architecture=True)
DELTA = Setting('delta', 2, 'Latent coordinates per category; d = K * delta (eq. 8).',
                check=settings_lib.at_least(1), architecture=True)
LATENT_DIM = Setting('latent_dim', 0, 'd; if set, must be a multiple of --num_categories '
                     '(then delta = d / K). 0: K * delta.', check=settings_lib.at_least(0),
                     inert=0)
