"""MovieLens 100K: fetched at run time, loaded as implicit feedback, split per user by time.

The data's terms forbid redistribution, so it is never committed: ``fetch_ml100k`` downloads
the ``recbole`` wheel from the package index with pip (no install, no dependencies) and
extracts the ``ml-100k`` files it ships into a cache folder, once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

RECBOLE_PIN = "recbole==1.2.1"
POSITIVE_RATING = 4.0


def default_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "clipfeed" / "ml-100k"


def fetch_ml100k(dest: Path | None = None) -> Path:
    """The folder holding ``ml-100k.inter`` (and ``.item``), downloading it when missing."""
    dest = dest or default_cache()
    if (dest / "ml-100k.inter").is_file() and (dest / "ml-100k.inter").stat().st_size > 0:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--dest", tmp, RECBOLE_PIN], check=True)
        wheel = next(Path(tmp).glob("recbole-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if "/dataset_example/ml-100k/" in name and not name.endswith("/"):
                    # Written under a temporary name first: a killed fetch leaves no half file
                    # that a later run would take for the real one.
                    target = dest / Path(name).name
                    partial = target.with_suffix(target.suffix + ".part")
                    partial.write_bytes(archive.read(name))
                    partial.replace(target)
    return dest


@dataclass
class Interactions:
    """Ratings as index arrays: users and items renumbered 0..n-1."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    times: np.ndarray
    n_users: int
    n_items: int
    genres: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def subset(self, mask: np.ndarray) -> Interactions:
        return Interactions(self.users[mask], self.items[mask], self.ratings[mask], self.times[mask],
                            self.n_users, self.n_items, self.genres)

    def matrix(self, *, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """Users × items, 1 per interaction (or ``weights``); duplicates summed."""
        values = np.ones(len(self.users), dtype=np.float32) if weights is None else weights
        return sp.csr_matrix((values, (self.users, self.items)), shape=(self.n_users, self.n_items))

    def positives(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for user, item, rating in zip(self.users, self.items, self.ratings, strict=True):
            if rating >= POSITIVE_RATING:
                out.setdefault(int(user), set()).add(int(item))
        return out

    def history(self) -> dict[int, list[int]]:
        """Each user's items in time order (oldest first)."""
        order = np.lexsort((self.times, self.users))
        out: dict[int, list[int]] = {}
        for index in order:
            out.setdefault(int(self.users[index]), []).append(int(self.items[index]))
        return out


def load_ml100k(folder: Path) -> Interactions:
    rows = np.loadtxt(folder / "ml-100k.inter", skiprows=1, delimiter="\t", dtype=np.float64)
    raw_users, users = np.unique(rows[:, 0].astype(np.int64), return_inverse=True)
    raw_items, items = np.unique(rows[:, 1].astype(np.int64), return_inverse=True)
    data = Interactions(users.astype(np.int32), items.astype(np.int32), rows[:, 2].astype(np.float32),
                        rows[:, 3].astype(np.int64), len(raw_users), len(raw_items))
    data.genres = _genres(folder / "ml-100k.item", raw_items)
    return data


def _genres(path: Path, raw_items: np.ndarray) -> np.ndarray:
    """A normalised multi-hot genre vector per item: the stand-in for a content embedding."""
    index = {int(raw): position for position, raw in enumerate(raw_items)}
    tagged: dict[int, list[str]] = {}
    names: dict[str, int] = {}
    if path.is_file():
        for line in path.read_text(encoding="latin-1").splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 4 and parts[0].isdigit() and int(parts[0]) in index:
                # "Children's" and "Film-Noir" contain no space; genres are space-separated.
                genres = parts[3].split()
                tagged[index[int(parts[0])]] = genres
                for genre in genres:
                    names.setdefault(genre, len(names))
    vectors = np.zeros((len(raw_items), max(1, len(names))), dtype=np.float32)
    for item, genres in tagged.items():
        for genre in genres:
            vectors[item, names[genre]] = 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


def temporal_split(data: Interactions, share: float = 0.8) -> tuple[Interactions, Interactions]:
    """The earliest ``share`` of each user's events, and the rest (ties broken by input order)."""
    order = np.lexsort((np.arange(len(data.users)), data.times, data.users))
    early = np.zeros(len(data.users), dtype=bool)
    users_sorted = data.users[order]
    starts = np.flatnonzero(np.r_[True, users_sorted[1:] != users_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for start, end in zip(starts, ends, strict=True):
        cut = start + max(1, int(round((end - start) * share)))
        early[order[start:cut]] = True
    return data.subset(early), data.subset(~early)


def global_time_split(data: Interactions, share: float = 0.8) -> tuple[Interactions, Interactions]:
    """The earliest ``share`` of all events, and the rest, cut at one moment for everyone: nothing
    that happened after the cut (another user's later ratings included) can inform a model scored
    on what came after it. Only users with events on both sides can be scored, so the later part
    keeps just their events."""
    order = np.lexsort((np.arange(len(data.users)), data.times))
    early = np.zeros(len(data.users), dtype=bool)
    early[order[: int(round(len(order) * share))]] = True
    known = np.zeros(data.n_users, dtype=bool)
    known[data.users[early]] = True
    return data.subset(early), data.subset(~early & known[data.users])
