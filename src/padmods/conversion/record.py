"""What :func:`padmods.convert` did: the layers it replaced, those it left alone, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from padmods._warnings import user_stacklevel

__all__ = ["ConversionReport", "ConversionWarning", "Replaced", "Skipped", "skipped_by_reason", "user_stacklevel"]

#: How many layers a warning names per reason; ``report=True`` lists every one.
NAMED_PER_REASON = 5


class ConversionWarning(UserWarning):
    """:func:`padmods.convert` left a convolution alone, or the caller must act (new parameters)."""


@dataclass(frozen=True)
class Replaced:
    """One convolution that :func:`padmods.convert` replaced.

    Attributes:
        name: Qualified name of the layer in the model (``''`` for the model itself).
        source: Class name of the layer that was there.
        target: Class name of the padmods layer now there.
        carried: What was carried over besides weights and settings, in words (``'hooks'``,
            ``'parametrizations of weight'``, ``'attribute eps'``).
        new_parameters: Names of the layer's parameters that are new objects (a CoordConv's wider
            weight): an optimizer built before the conversion does not hold them.
    """

    name: str
    source: str
    target: str
    carried: tuple[str, ...] = ()
    new_parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """One convolution that :func:`padmods.convert` left alone, and why."""

    name: str
    source: str
    reason: str


@dataclass(frozen=True)
class ConversionReport:
    """The record of one :func:`padmods.convert` call (returned with ``report=True``).

    Attributes:
        mode: The mode converted to, as given.
        replaced: The layers replaced, in the order met.
        skipped: The convolutions left alone, with the reason for each.
    """

    mode: object
    replaced: tuple[Replaced, ...]
    skipped: tuple[Skipped, ...]

    @property
    def new_parameters(self) -> tuple[str, ...]:
        """Qualified names of the parameters that an optimizer built before the conversion lacks."""
        return tuple(
            f"{layer.name}.{param}" if layer.name else param
            for layer in self.replaced
            for param in layer.new_parameters
        )

    def __str__(self) -> str:
        lines = [f"converted to {self.mode!r}: {len(self.replaced)} replaced, {len(self.skipped)} left alone"]
        for layer in self.replaced:
            extra = f" (carried {', '.join(layer.carried)})" if layer.carried else ""
            lines.append(f"  {layer.name or '<model>'}: {layer.source} -> {layer.target}{extra}")
        lines.extend(f"  {skip.name or '<model>'}: {skip.source} left alone: {skip.reason}" for skip in self.skipped)
        return "\n".join(lines)


def skipped_by_reason(skipped: Sequence[Skipped]) -> str:
    """The layers left alone, one line per reason: the first few names, their classes, and the reason.

    A model of many layers of one class that cannot be converted (50 ``ScaledStdConv2dSame`` in an
    NFNet) gets its reason said once, not once per layer.
    """
    groups: dict[str, list[Skipped]] = {}
    for skip in skipped:
        groups.setdefault(skip.reason, []).append(skip)
    lines = []
    for reason, layers in groups.items():
        names = ", ".join(repr(skip.name) if skip.name else "the model itself" for skip in layers[:NAMED_PER_REASON])
        more = len(layers) - NAMED_PER_REASON
        classes = ", ".join(dict.fromkeys(skip.source for skip in layers))
        if more > 0:
            names += f" and {more} more"
            classes += "; report=True lists them all"
        lines.append(f"- {names} ({classes}): {reason}")
    return "\n".join(lines)
