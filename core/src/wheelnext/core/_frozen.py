"""A base for the few immutable records on ``wn-detect``'s start-up path.

``dataclasses`` imports ``inspect`` (``ast``, ``dis``, ``tokenize``...): about 20 ms, a
third of a cached ``wn-detect --json`` run, for records that ``properties.py`` and
``supported.py`` define at import. Those write their ``__init__``, ``__eq__`` and
``__hash__`` by hand, with the meaning ``@dataclass(frozen=True, slots=True)`` gives them
(equal only to the same class, hash of the field tuple); this base adds the rest: no
assignment after ``__init__``, the dataclass ``repr``, and copy/pickle support.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs ~10 ms of wn-detect's start
if TYPE_CHECKING:
    from typing import Self


class FrozenInstanceError(AttributeError):
    """A field of an immutable record was assigned or deleted."""


class Frozen:
    """Immutable record over the fields named in ``__match_args__`` (also its slots)."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    if not TYPE_CHECKING:  # at run time only, so that mypy still reports assignments

        def __setattr__(self, name: str, value: object) -> None:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self, name: str) -> None:
            raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        """Copies and pickles are rebuilt through ``__init__`` (and its checks)."""
        return type(self), tuple(getattr(self, name) for name in self.__match_args__)
