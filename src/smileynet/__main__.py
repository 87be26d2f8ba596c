"""`python -m smileynet ...` (what `torchrun -m smileynet train ...` runs)."""

from smileynet.cli import main

main()
