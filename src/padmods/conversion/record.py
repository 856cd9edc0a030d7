"""What :func:`padmods.convert` did: the layers it replaced, those it left alone, and why."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConversionReport", "ConversionWarning", "Replaced", "Skipped"]


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
