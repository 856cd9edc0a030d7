"""CoordConv (Liu et al., 2018): convolution that also sees where each pixel is."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torch.nn.modules.conv import _ConvNd

from padmods import _checks, _geometry
from padmods._conv import PAD_MODES, Border
from padmods._coord import COORD_BORDERS, coord_conv, coord_image
from padmods._typing import IntOrTuple, PaddingArg, Pairs
from padmods.layers.base import PaddedConv1d, PaddedConv2d, PaddedConv3d, PaddedConvNd, format_doc
from padmods.layers.per_axis import per_axis_class
from padmods.registry import get, register

__all__ = ["CoordConv1d", "CoordConv2d", "CoordConv3d", "CoordConvNd"]


class CoordConvNd(PaddedConvNd):
    """What CoordConv shares in 1, 2 and 3 dimensions (see :class:`CoordConv2d`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: PaddingArg = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        device: Optional[torch.device | str] = None,
        dtype: Optional[torch.dtype] = None,
        *,
        with_r: bool = False,
        pad: str = "zeros",
    ) -> None:
        _checks.check_count("in_channels", in_channels)  # checked before the coordinate channels are added
        if _checks.check_count("groups", groups) != 1:
            raise ValueError(f"{type(self).__name__} supports groups=1 only, got groups={groups}")
        self.with_r = with_r
        self.pad_mode = pad  # looks up the layer class of the mode (see _check_setting)
        super().__init__(
            in_channels + self.coord_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            device,
            dtype,
        )
        self.in_channels = in_channels

    _settings = PaddedConvNd._settings | {"with_r", "pad_mode"}

    def _check_setting(self, name: str, value: Any) -> Any:
        """As for every layer; ``groups`` stays 1 and ``with_r`` as built, and a new ``pad`` is looked up.

        The coordinate channels feed every output, and ``with_r`` decides how many of them the
        weight has. Setting ``pad_mode`` looks up its class at once, as the constructor does.
        """
        if name == "with_r":
            value = bool(value)
            if "with_r" in self.__dict__ and value != self.with_r:
                raise ValueError(
                    f"{type(self).__name__}: with_r decides how many coordinate channels the weight has, so it "
                    f"cannot change from {self.with_r} to {value}; build a new layer, e.g. "
                    f"{type(self).__name__}.from_conv(layer, with_r={value})"
                )
            return value
        if name == "pad_mode":
            mode, self.__dict__["_pad_layer"], self.__dict__["_pad_border"] = self._look_up_pad(value)
            return mode
        value = super()._check_setting(name, value)
        if name == "groups" and value != 1:
            raise ValueError(f"{type(self).__name__} supports groups=1 only, got groups={value!r}")
        return value

    @property
    def coord_channels(self) -> int:
        """Number of coordinate channels: one per spatial axis, and one more with ``with_r``."""
        return self._spatial_dims + (1 if self.with_r else 0)

    _pad_layer: type[PaddedConvNd]
    _pad_border: Border | None

    def _look_up_pad(self, pad: Any) -> tuple[str | tuple[str, ...], type[PaddedConvNd], Border | None]:
        """The mode ``pad`` (a tuple for one mode per axis), its layer class, and the engine border it stands for."""
        if isinstance(pad, (tuple, list)):  # one padding mode per axis
            modes = _checks.check_axis_modes(pad, PAD_MODES, self._spatial_dims, type(self).__name__)
            return modes, per_axis_class(self._spatial_dims), modes
        pad_cls = get(pad, self._spatial_dims)
        if not issubclass(pad_cls, PaddedConvNd) or issubclass(pad_cls, CoordConvNd):
            raise ValueError(
                f"{type(self).__name__} pads with a padmods mode other than 'coord', "
                f"got pad={pad!r} ({pad_cls.__name__})"
            )
        border = pad_cls._engine_border
        return pad, pad_cls, border if border in COORD_BORDERS else None

    def check_padding(self, pairs: Pairs, sizes: tuple[int, ...], where: object) -> None:  # type: ignore[override]
        """Raise a ``ValueError`` naming ``where`` if the ``pad`` mode cannot pad an input of ``sizes``."""
        if self._pad_border is not None:
            _checks.check_padding_fits(self._pad_border, pairs, sizes, where)
        else:
            self._pad_layer.check_padding(pairs, sizes, where)

    def _limit_modes(self) -> Optional[tuple[str, ...]]:
        border = self._pad_border
        if border is None or border == "partial":  # a plugin's own limits; partial has none
            return None if border is None else ("zeros",) * self._spatial_dims
        return border if isinstance(border, tuple) else (border,) * self._spatial_dims

    def _padded_forward(
        self, input: Tensor, weight: Tensor, bias: Optional[Tensor], pairs: Pairs, *, eager: bool = False
    ) -> Tensor:
        if self._pad_border is not None:
            kept = self._kept_operands(weight) if eager else None
            return coord_conv(
                input,
                weight,
                bias,
                self.stride,
                pairs,
                self.dilation,
                self.with_r,
                self._pad_border,
                eager=eager,
                input_taps=None if kept is None else kept[0],
                kept_terms=None if kept is None else kept[1],
            )
        # a border of a plugin class: its own convolution of the input and of the coordinate image
        pad_conv, channels = self._pad_layer.padded_conv, self.in_channels
        out = pad_conv(input, weight[:, :channels], bias, self.stride, pairs, self.dilation, 1)
        sizes = tuple(input.shape[2:])
        # an empty batch of empty images: no coordinates to add; a tracer's symbolic sizes are not
        # tested (a jit trace would keep the answer as a constant, and warn)
        if (eager or _geometry.is_static(sizes)) and 0 in sizes:
            return out
        coords = coord_image(sizes, self.with_r, input.device, input.dtype).unsqueeze(0)
        return out + pad_conv(coords, weight[:, channels:], None, self.stride, pairs, self.dilation, 1)

    def _kept_operands(self, weight: Tensor) -> Optional[tuple[Tensor, dict[Any, Tensor]]]:
        """What the layer keeps of its weight between calls that do not train it, or ``None``.

        ``weight[:, :in_channels]`` as a contiguous tensor, and a dictionary in which
        :func:`padmods._coord.coord_conv` keeps the coordinate term of each input size: an
        inference call is then the input's convolution and one addition, with no weight-sized copy
        and no term computed again.

        Only where autograd does not record the weight (``eval()`` under ``torch.no_grad()`` or
        ``torch.inference_mode()``, or a frozen weight) and the weight is the layer's own
        ``Parameter``: a parametrized weight is a new tensor in every call, and a weight made
        under ``torch.inference_mode()`` has no version counter to tell an in-place change. Both
        are made again when the weight changes in place (an optimizer step, ``load_state_dict``:
        its version counter moves), is replaced (``layer.weight = ...``, ``.data = ...``), or the
        call moves into or out of ``torch.inference_mode()``. They are a plain attribute: never in
        the ``state_dict``, dropped when the layer is pickled, and made anew by a deep copy (whose
        weight is another tensor).
        """
        if (
            (torch.is_grad_enabled() and weight.requires_grad)
            or not isinstance(weight, torch.nn.Parameter)
            or weight.is_inference()  # made under inference_mode: no version counter says when it changes
        ):
            return None
        key = (weight._version, weight.data_ptr(), torch.is_inference_mode_enabled())
        kept = self.__dict__.get("_kept")
        if kept is not None and kept[0] is weight and kept[1] == key:
            operands: tuple[Tensor, dict[Any, Tensor]] = kept[2]
            return operands
        operands = (weight[:, : self.in_channels].contiguous(), {})
        self.__dict__["_kept"] = (weight, key, operands)
        return operands

    def extra_repr(self) -> str:
        """The settings that differ from the defaults, ``with_r`` and ``pad`` included."""
        text = super().extra_repr()
        extras = [f"with_r={self.with_r}"] if self.with_r else []
        extras += [f"pad={self.pad_mode!r}"] if self.pad_mode != "zeros" else []
        return ", ".join([text, *extras])

    @classmethod
    def conversion_refusal(cls, conv: _ConvNd) -> Optional[str]:
        """CoordConv appends coordinate channels to every group's input, so it takes ``groups=1`` only."""
        if conv.groups != 1:
            return f"{cls.__name__} supports groups=1 only, got groups={conv.groups}"
        return None

    @classmethod
    def from_conv(cls, conv: _ConvNd, **kwargs: Any) -> CoordConvNd:
        """A CoordConv with the settings and weights of ``conv``; new coordinate taps start at zero.

        With zero coordinate taps the layer computes exactly what ``conv`` computed (for the same
        border mode), so a converted model starts from the original function. A CoordConv source
        keeps its ``with_r`` and ``pad`` unless they are given.

        Args:
            conv: Any convolution with as many spatial axes (:class:`torch.nn.Conv2d` for
                :class:`CoordConv2d`).
            **kwargs: ``share_parameters``, ``with_r`` and ``pad``.
        """
        if isinstance(conv, CoordConvNd):
            kwargs.setdefault("with_r", conv.with_r)
            kwargs.setdefault("pad", conv.pad_mode)
        return super().from_conv(conv, **kwargs)

    def _copy_parameter(self, name: str, conv: _ConvNd) -> None:
        """Copy a parameter of ``conv``; a weight without coordinate taps gets zero ones."""
        source = getattr(conv, name)
        if name != "weight" or source.shape == self.weight.shape:
            return super()._copy_parameter(name, conv)
        if source.shape[1] != self.in_channels or source.shape[2:] != self.weight.shape[2:]:
            raise ValueError(
                f"cannot copy the weight of {type(conv).__name__} (shape {tuple(source.shape)}) into "
                f"{type(self).__name__} (shape {tuple(self.weight.shape)})"
            )
        self.weight.zero_()
        self.weight[:, : self.in_channels].copy_(source)
        return None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state = dict(state)
        state.pop("_pad_layer", None)  # looked up again by name when unpickled
        state.pop("_pad_border", None)
        state.pop("_kept", None)  # copies of the weight and terms made from it, made again when needed
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("with_r", False)
        self.pad_mode = self.__dict__.get("pad_mode", "zeros")  # looks up its class again, by name


@register("coord")
@format_doc
class CoordConv2d(CoordConvNd, PaddedConv2d):
    r"""2D convolution over the input with coordinate channels appended (CoordConv).

    :class:`CoordConv1d` and :class:`CoordConv3d` are the same for 1-D inputs (one channel,
    :math:`x`) and 3-D inputs (three, :math:`x, y, z`, with :math:`z` along the depth; the radius
    channel is then :math:`\sqrt{x^2 + y^2 + z^2} / \sqrt{3}`).

    Liu et al., 2018 (arXiv:1807.03247). The layer convolves
    ``cat([input, coord_channels(H, W)], dim=1)``: channel :math:`x` varies along the width and
    :math:`y` along the height, both linearly from -1 to 1 over the layer's input; with
    ``with_r=True`` a radius channel :math:`r = \sqrt{x^2 + y^2} / \sqrt{2}` (1 at the corners)
    follows (see :func:`padmods.functional.coord_channels`). The border of input and coordinates
    alike is filled by the registered mode ``pad``, looked up once, when the layer is built (and
    again when it is unpickled): registering another class under that name later does not change
    what an existing layer computes.

    The input is never copied: by linearity the output is the input's convolution with
    ``weight[:, :C_in]`` plus the coordinates convolved with ``weight[:, C_in:]``, one map broadcast
    over the batch. For the built-in modes that map comes from a few small matrix products, since
    each coordinate varies along one axis only.

    Args:
        {args}
        with_r: Append the radius channel as well. Default: ``False``
        pad: Name of the registered mode that pads the border (any mode but ``'coord'``), or one
            padding mode per axis, e.g. ``('zeros', 'circular')``. Default: ``'zeros'``

    Shape:
        {shape}

    Attributes:
        weight (Tensor): Learnable weights of shape :math:`(C_{out}, C_{in} + 2, k_0, k_1)`, or
            :math:`C_{in} + 3` with ``with_r``; the coordinate taps come last, in the order
            :math:`x, y, r`. Initialised as in :class:`torch.nn.Conv2d`, with fan-in counting the
            coordinate channels. :meth:`from_conv` sets the coordinate taps to zero instead.
        bias (Tensor): Learnable bias of shape :math:`(C_{out})`.

    Raises:
        ValueError: ``groups`` is not 1, or ``pad`` names no usable mode.

    Examples:
        >>> conv = padmods.CoordConv2d(3, 8, 3, padding=1)
        >>> conv.weight.shape
        torch.Size([8, 5, 3, 3])
        >>> conv(torch.ones(2, 3, 6, 6)).shape
        torch.Size([2, 8, 6, 6])
    """


@register("coord")
@format_doc
class CoordConv1d(CoordConvNd, PaddedConv1d):
    r"""1D convolution over the input with a coordinate channel appended (CoordConv).

    The 1D version of :class:`CoordConv2d` (:class:`torch.nn.Conv1d`): one channel :math:`x`, from
    -1 to 1 along the length, and with ``with_r`` the radius :math:`|x|`.

    Args:
        {args}
        with_r: Append the radius channel as well. Default: ``False``
        pad: Name of the registered mode that pads the border (any mode but ``'coord'``).
            Default: ``'zeros'``

    Shape:
        {shape}

    Attributes:
        weight (Tensor): Learnable weights of shape :math:`(C_{out}, C_{in} + 1, k)`, or
            :math:`C_{in} + 2` with ``with_r``; the coordinate taps come last.
        bias (Tensor): Learnable bias of shape :math:`(C_{out})`.

    Examples:
        >>> conv = padmods.CoordConv1d(2, 4, 3, padding=1)
        >>> conv.weight.shape
        torch.Size([4, 3, 3])
    """


@register("coord")
@format_doc
class CoordConv3d(CoordConvNd, PaddedConv3d):
    r"""3D convolution over the input with coordinate channels appended (CoordConv).

    The 3D version of :class:`CoordConv2d` (:class:`torch.nn.Conv3d`): channels :math:`x, y, z`,
    each from -1 to 1 along the width, the height and the depth, and with ``with_r`` the radius
    :math:`\sqrt{x^2 + y^2 + z^2} / \sqrt{3}`.

    Args:
        {args}
        with_r: Append the radius channel as well. Default: ``False``
        pad: Name of the registered mode that pads the border (any mode but ``'coord'``).
            Default: ``'zeros'``

    Shape:
        {shape}

    Attributes:
        weight (Tensor): Learnable weights of shape :math:`(C_{out}, C_{in} + 3, k_0, k_1, k_2)`, or
            :math:`C_{in} + 4` with ``with_r``; the coordinate taps come last, in the order
            :math:`x, y, z, r`.
        bias (Tensor): Learnable bias of shape :math:`(C_{out})`.

    Examples:
        >>> conv = padmods.CoordConv3d(1, 2, 3, padding="same", pad="replicate")
        >>> conv(torch.ones(1, 1, 4, 5, 6)).shape
        torch.Size([1, 2, 4, 5, 6])
    """
