"""The labelled scanner corpus for bench/scan.py: key formats written from the providers'
documentation (formats.py, independent of jackstop's rules.toml), hard negatives
(negatives.py), and the tree and git-history writers (build.py). Generated at bench time."""

from .build import Corpus, Plant, make_history, make_tree
from .formats import FORMATS

__all__ = ["FORMATS", "Corpus", "Plant", "make_history", "make_tree"]
