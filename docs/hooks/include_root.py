"""MkDocs hook: pages that are the repository's own Markdown files, included, not copied.

A page whose whole text is `{% include "RESULTS.md" %}` (a file at the repository root)
gets that file's text, with the links written for the repository root rewritten for the
site: `docs/x` becomes `x`, and a link to another root Markdown file that the site shows
becomes a link to its page. The files stay where readers of the repository find them, and
the site never holds a second copy that could drift.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r'^\{% include "([^"]+)" %\}\s*$')
PAGES = {'RESULTS.md': 'reproductions.md', 'BENCHMARKS.md': 'benchmarks.md',
         'BUILD.md': 'building.md', 'CHANGELOG.md': 'changelog.md'}


def on_page_markdown(markdown, page, config, files):  # pylint: disable=unused-argument
  found = INCLUDE.match(markdown.strip())
  if not found:
    return markdown
  text = (ROOT / found.group(1)).read_text(encoding='utf-8')
  prefix = '../' * page.file.src_uri.count('/')
  text = text.replace('](docs/', f']({prefix}')
  for name, target in PAGES.items():
    text = text.replace(f']({name})', f']({prefix}{target})')
  return text
