r"""Shows or empties icvae's cache of your own data (`icvae.files`: the arrays read from your
files, keyed by their content, so a second run does not decode the images again).

  icvae cache            # where it is, how many entries, how large, and its limit
  icvae cache clear      # deletes every entry (they are read from the files again)

The cache lives in $ICVAE_CACHE_DIR/user-data (default ~/.cache/icvae/user-data) and keeps
the most recently used entries within $ICVAE_USER_DATA_CACHE_GB gigabytes (default 5):
older ones are deleted when a new one is written. Prepared registered datasets (MNIST,
Fashion-MNIST, dSprites) are cached beside it and are not touched.
"""

import pathlib

from absl import app

from icvae import files
from icvae import settings

ACTIONS = ('show', 'clear')


def main(argv):
  action = argv[1] if len(argv) > 1 else 'show'
  if len(argv) > 2 or action not in ACTIONS:
    raise app.UsageError(f'icvae cache [{"|".join(ACTIONS)}]: got {" ".join(argv[1:])!r}.')
  root = pathlib.Path(settings.default_cache_dir()) / 'user-data'
  if action == 'clear':
    count, freed = files.clear_cache()
    print(f'removed {count} entries ({freed / 1e6:.1f} MB) from {root}')
    return
  entries = list(root.glob('*.npz')) if root.is_dir() else []
  size = sum(p.stat().st_size for p in entries)
  print(f'{root}: {len(entries)} entries, {size / 1e6:.1f} MB (limit '
        f'{files.cache_limit_bytes() / 1e9:g} GB, ${files.CACHE_LIMIT_VARIABLE}); '
        '`icvae cache clear` empties it')
