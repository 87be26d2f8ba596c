"""The paper's published numbers (Al-Halah et al. 2019), kept as printed (percent, as strings, so
the paper's precision survives). Shown in their own rows, marked "published": never re-measured.

Twitter I columns are in the paper's order (3, 4, 5 agrees), keyed by transfer's split names.
Table 6's text lost its "-" cells in extraction; the reading here gives each row the one number
the paper prints for it, in row order ("You et al." reports emotions only, the others sentiment).
"""

from __future__ import annotations

TWITTER_SPLITS = ("three_agrees", "four_agrees", "five_agrees")
TWITTER_HEADERS = ("3 agrees", "4 agrees", "5 agrees")

# Table 1: emoji prediction on the Visual Smiley Dataset test split.
TABLE1_HEADERS = ("mTop-1", "mTop-3", "mTop-5", "AUC")
TABLE1_KEYS = ("mtop1", "mtop3", "mtop5", "auc")
TABLE1 = (
    ("Random performance", ("1.7", "3.3", "5.4", "50.0")),
    ("SmileyNet (Raw-Dist.)", ("9.5", "11.6", "16.3", "67.6")),
    ("SmileyNet (Temp-Sampling)", ("11.5", "14.4", "19.5", "69.8")),
)

# Table 2: 1-nearest-neighbour sentiment accuracy, 5-fold CV, Twitter I.
TABLE2 = (
    ("ObjectNet", ("74.0", "79.0", "82.1")),
    ("SmileyNet (ours)", ("76.5", "80.0", "84.7")),
)

# Table 3: state of the art on Twitter I (transfer learning, 5-fold CV).
TABLE3 = (
    ("PAEF [45]", ("67.92", "69.61", "72.90")),
    ("SentiBank [6]", ("66.63", "68.28", "71.32")),
    ("DeepSentiBank [9]", ("71.25", "70.15", "76.35")),
    ("PCNN [43]", ("76.36", "76.52", "82.54")),
    ("Campos et al. [7]", ("74.90", "78.70", "83.00")),
    ("AR+Concat(K=1) [42]", ("77.79", "83.25", "86.10")),
    ("AR+Concat(K=8) [42]", ("81.06", "85.10", "88.65")),
    ("ObjectNet", ("78.28", "82.73", "87.67")),
    ("SmileyNet (ours)", ("82.69", "84.87", "89.16")),
)

# Table 4: zero-shot sentiment on Twitter I (binary / continuous emoji polarity).
TABLE4 = (
    ("SmileyNet - Bin.", ("74.2", "77.1", "81.2")),
    ("SmileyNet - Con.", ("73.4", "76.0", "80.0")),
)

# Table 6: Flickr&Instagram (FI), 8 emotion classes and the derived sentiment.
TABLE6_HEADERS = ("Multi-Class Emotions", "Sentiment")
TABLE6 = (
    ("You et al. [44]", ("48.30", "-")),
    ("DeepSentiBank [9]", ("-", "61.54")),
    ("PCNN [43]", ("-", "75.34")),
    ("AR+Concat(K=1) [42]", ("-", "84.83")),
    ("AR+Concat(K=8) [42]", ("-", "86.35")),
    ("ObjectNet", ("54.42", "83.81")),
    ("SmileyNet (ours)", ("55.81", "87.01")),
)
