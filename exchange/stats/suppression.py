"""Small-count suppression for published tables, with complementary suppression.

A count of 1 or 2 is never published: it shows as "<3" (primary suppression). That alone
is not enough. The tables on the statistics page are margins of one set of records, so
their common total is known whenever any one of them has no small count; a table with a
single "<3" then gives it away by subtraction (total minus the other cells), and so does a
table whose hidden cells can only add up one way (three cells of "<3" summing to 3 are
three 1s). So the sum of the hidden cells of every table is assumed known, and further
cells are hidden (complementary suppression, shown as "x", the mark Japanese official
statistics use for 秘匿) until each small count could still be either 1 or 2. A table that
cannot be protected that way is withheld whole, zeros included, because even its zeros
narrow the possibilities down.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

SMALL_MAX = 2
SMALL_MARK = "<3"
HIDDEN_MARK = "x"
_UNBOUNDED = 10**12

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Shown:
    """A count as published: the number, or the mark that stands for it."""

    count: int | None
    mark: str | None = None

    @property
    def text(self) -> str:
        return self.mark if self.mark is not None else str(self.count)

    @property
    def hidden(self) -> bool:
        return self.count is None


def is_small(count: int) -> bool:
    return 1 <= count <= SMALL_MAX


def shown_total(total: int) -> Shown:
    """The grand total follows the same rule as any cell."""
    return Shown(None, SMALL_MARK) if is_small(total) else Shown(total)


def _exposed(counts: Mapping[K, int], small: set[K], hidden: set[K]) -> bool:
    """Whether some small count is pinned down by the known sum of the hidden cells.

    What an observer knows of each hidden cell: a "<3" is 1 or 2; an "x" is at least 3
    (else it would show "<3") and at most the smallest count left visible, because the
    smallest counts are the ones hidden first.
    """
    known_sum = sum(counts[key] for key in hidden)
    ceiling = min(
        (count for key, count in counts.items() if count > SMALL_MAX and key not in hidden),
        default=_UNBOUNDED,
    )
    bounds = {key: (1, SMALL_MAX) if key in small else (SMALL_MAX + 1, ceiling) for key in hidden}
    low_total = sum(low for low, _ in bounds.values())
    high_total = sum(high for _, high in bounds.values())
    for key in small:
        low, high = bounds[key]
        others_low, others_high = low_total - low, high_total - high
        if max(low, known_sum - others_high) > 1 or min(high, known_sum - others_low) < SMALL_MAX:
            return True
    return False


def protect(counts: Mapping[K, int]) -> dict[K, Shown] | None:
    """Every cell as published, or None when the table has to be withheld."""
    small = {key for key, count in counts.items() if is_small(count)}
    hidden = set(small)
    while small and _exposed(counts, small, hidden):
        # The smallest visible counts go first: they cost the reader least.
        candidates = sorted(
            (count, str(key), key)
            for key, count in counts.items()
            if count > SMALL_MAX and key not in hidden
        )
        if not candidates:
            return None
        hidden.add(candidates[0][2])
    return {
        key: Shown(None, SMALL_MARK)
        if key in small
        else Shown(None, HIDDEN_MARK)
        if key in hidden
        else Shown(count)
        for key, count in counts.items()
    }
