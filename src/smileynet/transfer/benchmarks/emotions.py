"""Emotion benchmarks, each in the layout its authors published.

Mikels' eight emotions (positive = amusement, awe, contentment, excitement, the mapping the
paper uses for FI and that ArtPhoto and Abstract share):

- FI (You et al. 2016): `<emotion>/<emotion>_NNNN.jpg`. Flickr's "photo no longer available"
  placeholders are byte-identical files: content found in `PLACEHOLDER_COPIES` or more files is
  dropped and counted.
- ArtPhoto (Machajdik & Hanbury 2010; 806 artistic photos, labelled by the uploader's search
  keyword): `testImages_artphoto/<emotion>_<n>.jpg` in one flat folder beside a `ReadMe.rtf`; the
  file name's part before the first "_" is the emotion, "sad" standing for sadness (the
  layout read by Kahsolt/EmotionSpaces `data.py` and listed at https://www.imageemotion.org/).
- Abstract (Machajdik & Hanbury 2010; 280 abstract paintings, each rated by about 14 people):
  `testImages_abstract/ABSTRACT_groundTruth.csv`, quoted with "'": a header of an empty cell then
  'Amusement','Anger','Awe','Content','Disgust','Excitement','Fear','Sad', one row of votes per
  image file beside it (layout read by Kahsolt/EmotionSpaces `data.py`). The label is the emotion
  with the most votes; images whose top votes tie are dropped and counted, which leaves the 228
  the literature evaluates on (Kahsolt/EmotionSpaces README: "280/228 ... argmax w/o tie";
  haoyev5/Image-Emotion-Datasets readme). Classes hold a handful of images each: lower
  `--folds` when one holds fewer than the folds.

Ekman's six emotions (anger, disgust, fear, joy, sadness, surprise; no sentiment mapping, since
surprise has no agreed polarity, so no zero-shot):

- EmotionROI (Peng et al. 2016, "Where do emotions come from? Predicting the emotion stimuli
  map"; 1980 images, 330 per emotion;
  http://chenlab.ece.cornell.edu/people/kuanchuan/publications/EmotionROI.zip):
  `images/<emotion>/<file>`, the stimuli maps in `ground_truth/<emotion>/<file>` (not read), and
  the published split `training_testing_split/{training,testing}.txt` of `<emotion>/<file>`
  lines (layout read by Kahsolt/EmotionROI-ex `data.py`), used as the one published fold.
  Without the split files the class folders are read and folds are drawn.
- Emotion6 (Peng et al. 2015, "A mixed bag of emotions"; 1980 images, 330 per emotion;
  http://chenlab.ece.cornell.edu/people/kuanchuan/publications/Emotion6.zip): `images/<emotion>/
  <file>` beside `ground_truth.txt` (tab-separated: file, valence, arousal and the seven
  emotion probabilities; read by Kahsolt/EmotionSpaces `data.py`). The class is the folder the
  image was collected under, as in the emotion classification results reported on it; the
  distributions are not used. No split is published, so folds are drawn.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np

from smileynet.errors import UserError
from smileynet.images import is_image_file
from smileynet.transfer.benchmarks.base import (
    EKMAN_EMOTIONS,
    MIKELS_EMOTIONS,
    Benchmark,
    class_tree,
    read_lines,
    relative_name,
    shown,
    single_split,
)

PLACEHOLDER_COPIES = 5
MIKELS_ALIASES = {"sad": "sadness", "content": "contentment"}  # ArtPhoto's and Abstract's spellings
ARTPHOTO_DIR = "testImages_artphoto"
ABSTRACT_DIR = "testImages_abstract"
ABSTRACT_VOTES = "ABSTRACT_groundTruth.csv"
EMOTIONROI_SPLITS = ("training.txt", "testing.txt")


def mikels_name(text: str) -> str | None:
    name = text.strip().strip("'\"").lower()
    name = MIKELS_ALIASES.get(name, name)
    return name if name in MIKELS_EMOTIONS else None


def load_fi(root: Path) -> Benchmark:
    """FI: one folder per Mikels emotion; placeholders (repeated identical files) are dropped."""
    present = [e for e in MIKELS_EMOTIONS if (root / e).is_dir()]
    if len(present) < 2:
        raise UserError(f"{root}: expected FI emotion folders ({', '.join(MIKELS_EMOTIONS)})")
    bench = class_tree("fi", root, present)
    digests = [hashlib.sha1(p.read_bytes()).hexdigest() for p in bench.paths]
    copies = Counter(digests)
    keep = np.array([copies[d] < PLACEHOLDER_COPIES for d in digests])
    return bench.drop(keep, ["placeholder (repeated identical file)"] * len(keep))


def _within(root: Path, folder: str) -> Path:
    """`root` itself when it is the release's folder, else that folder inside it."""
    return root / folder if (root / folder).is_dir() else root


def load_artphoto(root: Path) -> Benchmark:
    """ArtPhoto: flat `<emotion>_<n>.jpg` files; a name with no Mikels emotion in front is counted."""
    folder = _within(root, ARTPHOTO_DIR)
    found: dict[str, list[Path]] = {}
    unknown = 0
    for file in sorted(p for p in folder.iterdir() if is_image_file(p)):
        emotion = mikels_name(file.name.split("_")[0]) if "_" in file.name else None
        if emotion is None:
            unknown += 1
        else:
            found.setdefault(emotion, []).append(file)
    classes = [e for e in MIKELS_EMOTIONS if e in found]
    if len(classes) < 2:
        raise UserError(
            f"{folder}: expected ArtPhoto's <emotion>_<n>.jpg files ({', '.join(MIKELS_EMOTIONS)}, 'sad' for sadness)"
        )
    paths = [p for c in classes for p in found[c]]
    bench = single_split("artphoto", root, paths, [i for i, c in enumerate(classes) for _ in found[c]], classes)
    if unknown:
        bench.skipped["no emotion in the file name"] = unknown
    return bench


def read_abstract_votes(path: Path) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """ABSTRACT_groundTruth.csv -> (Mikels names in column order, [(file, votes)])."""
    lines = read_lines(path)
    if not lines:
        raise UserError(f"{path}: empty")
    rows = [next(csv.reader([text], quotechar="'", skipinitialspace=True)) for _, text in lines]
    emotions = [mikels_name(c) for c in rows[0][1:]]
    if len(emotions) != len(MIKELS_EMOTIONS) or sorted(e or "" for e in emotions) != sorted(MIKELS_EMOTIONS):
        raise UserError(
            f"{path}: line {lines[0][0]}: expected a header naming the eight emotions, got {shown(lines[0][1])}"
        )
    votes = []
    for (number, text), row in zip(lines[1:], rows[1:]):
        try:
            counts = [int(v) for v in row[1:]]
        except ValueError:
            counts = []
        if len(counts) != len(emotions) or min(counts) < 0:
            raise UserError(
                f"{path}: line {number}: expected a file and {len(emotions)} vote counts, got {shown(text)}"
            )
        votes.append((str(relative_name(path, number, row[0].strip())), counts))
    return [e for e in emotions if e], votes


def load_abstract(root: Path) -> Benchmark:
    """Abstract: the most-voted emotion per painting; ties dropped (and counted)."""
    folder = _within(root, ABSTRACT_DIR)
    if not (folder / ABSTRACT_VOTES).is_file():
        raise UserError(f"{root}: no Abstract votes: looked for {ABSTRACT_VOTES} in {root} and {root / ABSTRACT_DIR}")
    emotions, votes = read_abstract_votes(folder / ABSTRACT_VOTES)
    winners = []
    for _, counts in votes:
        top = max(counts)
        winners.append(emotions[counts.index(top)] if counts.count(top) == 1 else None)
    classes = [e for e in MIKELS_EMOTIONS if e in winners]
    if len(classes) < 2:
        raise UserError(f"{folder / ABSTRACT_VOTES}: fewer than two emotions win a vote")
    bench = single_split(
        "abstract", root, [folder / name for name, _ in votes], [classes.index(w) if w else 0 for w in winners], classes
    )
    bench = bench.drop(np.array([w is not None for w in winners]), ["tied votes"] * len(winners))
    return bench.drop_missing()


def read_emotionroi_list(path: Path) -> list[tuple[str, str]]:
    """`<emotion>/<file>` lines -> [(relative path, emotion)]."""
    entries = []
    for number, text in read_lines(path):
        name = relative_name(path, number, text)
        if len(name.parts) != 2 or name.parts[0] not in EKMAN_EMOTIONS:
            raise UserError(
                f"{path}: line {number}: expected '<emotion>/<file>' with one of "
                f"{', '.join(EKMAN_EMOTIONS)}, got {shown(text)}"
            )
        entries.append((str(name), name.parts[0]))
    return entries


def load_emotionroi(root: Path) -> Benchmark:
    """EmotionROI: the published training/testing lists as one fold, else the class folders."""
    images = root / "images"
    if not images.is_dir():
        raise UserError(f"{root}: no EmotionROI images: looked for {images}/<emotion>/")
    split_dir = root / "training_testing_split"
    if not all((split_dir / n).is_file() for n in EMOTIONROI_SPLITS):
        present = [e for e in EKMAN_EMOTIONS if (images / e).is_dir()]
        if len(present) < 2:
            raise UserError(f"{images}: expected EmotionROI's emotion folders ({', '.join(EKMAN_EMOTIONS)})")
        return class_tree("emotionroi", root, present, images)
    train, test = (read_emotionroi_list(split_dir / n) for n in EMOTIONROI_SPLITS)
    entries = train + test
    twice = next((name for name, count in Counter(name for name, _ in entries).items() if count > 1), None)
    if twice is not None:
        raise UserError(f"{split_dir}: {twice} is listed more than once in {' and '.join(EMOTIONROI_SPLITS)}")
    classes = [e for e in EKMAN_EMOTIONS if any(emotion == e for _, emotion in entries)]
    folds = [(np.arange(len(train)), np.arange(len(train), len(entries)))]
    bench = single_split(
        "emotionroi",
        root,
        [images / name for name, _ in entries],
        [classes.index(emotion) for _, emotion in entries],
        classes,
        folds,
    )
    return bench.drop_missing()


def load_emotion6(root: Path) -> Benchmark:
    """Emotion6: `images/<emotion>/` folders, the folder naming the class."""
    images = _within(root, "images")
    present = [e for e in EKMAN_EMOTIONS if (images / e).is_dir()]
    if len(present) < 2:
        raise UserError(f"{root}: expected Emotion6's images/<emotion>/ folders ({', '.join(EKMAN_EMOTIONS)})")
    return class_tree("emotion6", root, present, images)
