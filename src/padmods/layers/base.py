"""The base classes of padding-aware convolutions: ``nn.Conv1d``/``2d``/``3d`` whose class decides the border."""

from __future__ import annotations

from typing import Any, ClassVar, Optional, TypeVar

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from padmods import _checks, _geometry
from padmods._conv import TORCH_PAD_MODES, conv, explicit_pad
from padmods._conv_classes import TORCH_CONVS
from padmods._engine import ENGINE_BORDERS, engine_conv, padding_of
from padmods._trace import constant_checks, is_plain_eager
from padmods._typing import IntOrTuple, PaddingArg, Pairs

__all__ = ["PaddedConv1d", "PaddedConv2d", "PaddedConv3d", "PaddedConvNd"]

SelfLayer = TypeVar("SelfLayer", bound="PaddedConvNd")

#: Per built-in border with a size limit: how much larger than its largest pad an axis must be.
#: Reflection pads by less than the size, circular wrapping by at most the size; replication and
#: symmetric mirroring need a non-empty axis only.
_MINIMUM_SIZE = {"reflect": 1, "circular": 0, "replicate": -(1 << 62), "symmetric": -(1 << 62)}


class _EagerPlan:
    """What a layer's eager forward needs of its settings, worked out once (see :meth:`PaddedConvNd._make_plan`).

    Attributes:
        rank: The rank of a batched input, ``spatial dims + 2``.
        pairs: The padding, one ``(before, after)`` per axis, or ``None`` where it depends on the
            input's size (``'same'`` with a stride).
        minimum: The smallest size per axis the padding fits, or ``None`` where any size fits.
    """

    __slots__ = ("minimum", "pairs", "rank")

    def __init__(self, rank: int, pairs: Optional[Pairs], minimum: Optional[tuple[int, ...]]) -> None:
        self.rank, self.pairs, self.minimum = rank, pairs, minimum

    def fits(self, sizes: tuple[int, ...]) -> bool:
        """Whether an input of ``sizes`` is at least :attr:`minimum` along every axis."""
        assert self.minimum is not None
        for size, least in zip(sizes, self.minimum, strict=True):
            if size < least:
                return False
        return True


#: Argument text shared by every layer's docstring, written once as torch's ``convolution_notes``.
CONV_ARGS = """in_channels: Number of channels in the input image.
        out_channels: Number of channels produced by the convolution.
        kernel_size: Size of the convolving kernel.
        stride: Stride of the convolution. Default: 1
        padding: Padding added to both sides of every spatial axis: an int, one int per axis (e.g.
            ``(height, width)``), ``'valid'``, ``'full'`` (:math:`d (k - 1)` on both sides, every
            output any input element reaches) or ``'same'``. ``'same'`` works for every kernel
            size, dilation and stride and follows TensorFlow's rule: the output has
            :math:`\\lceil n / s \\rceil` elements along an axis of :math:`n`, and when the needed
            padding is odd the extra element goes after (bottom/right). With stride 1 this is
            PyTorch's own ``'same'``. Default: 0
        dilation: Spacing between kernel elements. Default: 1
        groups: Number of blocked connections from input channels to output channels. Default: 1
        bias: If ``True``, adds a learnable bias to the output. Default: ``True``
        device: Device of the parameters. Default: ``None``
        dtype: Floating dtype of the parameters. Default: ``None``"""

#: The ``Shape`` section of a layer with 1, 2 or 3 spatial axes.
SHAPES = {
    1: """Input: :math:`(N, C_{in}, L_{in})` or :math:`(C_{in}, L_{in})`
        Output: :math:`(N, C_{out}, L_{out})` or :math:`(C_{out}, L_{out})`, where

        .. math::
            L_{out} = \\left\\lfloor \\frac{L_{in} + p_{before} + p_{after} - d (k - 1) - 1}{s} \\right\\rfloor + 1

        always the output shape of :class:`torch.nn.Conv1d` with the same arguments (and
        :math:`\\lceil L_{in} / s \\rceil` for ``'same'``).""",
    2: """Input: :math:`(N, C_{in}, H_{in}, W_{in})` or :math:`(C_{in}, H_{in}, W_{in})`
        Output: :math:`(N, C_{out}, H_{out}, W_{out})` or :math:`(C_{out}, H_{out}, W_{out})`, where

        .. math::
            H_{out} = \\left\\lfloor \\frac{H_{in} + p_{top} + p_{bottom} - d_0 (k_0 - 1) - 1}{s_0} \\right\\rfloor + 1

        and likewise for :math:`W_{out}`: always the output shape of :class:`torch.nn.Conv2d` with the
        same arguments (and :math:`\\lceil H_{in} / s_0 \\rceil` for ``'same'``).""",
    3: """Input: :math:`(N, C_{in}, D_{in}, H_{in}, W_{in})` or :math:`(C_{in}, D_{in}, H_{in}, W_{in})`
        Output: :math:`(N, C_{out}, D_{out}, H_{out}, W_{out})` or :math:`(C_{out}, D_{out}, H_{out}, W_{out})`,
        where

        .. math::
            D_{out} = \\left\\lfloor \\frac{D_{in} + p_{front} + p_{back} - d_0 (k_0 - 1) - 1}{s_0} \\right\\rfloor + 1

        and likewise for :math:`H_{out}` and :math:`W_{out}`: always the output shape of
        :class:`torch.nn.Conv3d` with the same arguments (and :math:`\\lceil D_{in} / s_0 \\rceil` for ``'same'``).""",
}

_KERNEL_AXES = {1: "k", 2: "k_0, k_1", 3: "k_0, k_1, k_2"}

#: The ``Attributes`` section of a layer with 1, 2 or 3 spatial axes.
ATTRIBUTES = {
    dims: f"""weight (Tensor): Learnable weights of shape
            :math:`(C_{{out}}, C_{{in}} / groups, {_KERNEL_AXES[dims]})`, initialised as in
            :class:`torch.nn.{conv}`.
        bias (Tensor): Learnable bias of shape :math:`(C_{{out}})`, initialised as in
            :class:`torch.nn.{conv}`."""
    for dims, conv in ((1, "Conv1d"), (2, "Conv2d"), (3, "Conv3d"))
}


class PaddedConvNd(_ConvNd):
    """What every padmods layer shares, whatever its number of spatial axes (see :class:`PaddedConv2d`).

    It comes first among the bases of :class:`PaddedConv1d`, :class:`PaddedConv2d` and
    :class:`PaddedConv3d`, before ``nn.Conv1d``/``2d``/``3d``, whose constructor and parameters it uses.
    """

    #: Number of spatial axes: 1, 2 or 3, set by :class:`PaddedConv1d`, ``2d`` and ``3d``.
    _spatial_dims: ClassVar[int] = 2

    #: The border of padmods' engine that this class pads with: ``'zeros'``, ``'reflect'``,
    #: ``'replicate'``, ``'circular'`` or ``'partial'``; ``None`` for a class that implements
    #: :meth:`pad` or :meth:`padded_conv` itself.
    border: ClassVar[Optional[str]] = None

    #: The attributes that :meth:`__setattr__` checks and normalises (subclasses add their own).
    _settings: ClassVar[frozenset[str]] = frozenset(
        ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode")
    )

    #: The border the engine runs for this class: :attr:`border`, unless this class or a parent
    #: below :class:`PaddedConvNd` overrides :meth:`pad` or :meth:`padded_conv` (then ``None``, and
    #: the overriding method runs, so a subclass never gets a border it changed).
    _engine_border: ClassVar[Optional[str]] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        below_base = cls.__mro__[: cls.__mro__.index(PaddedConvNd)]
        overrides = any("pad" in klass.__dict__ or "padded_conv" in klass.__dict__ for klass in below_base)
        cls._engine_border = None if overrides else cls.border

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
    ) -> None:
        dims = self._spatial_dims
        _checks.check_count("in_channels", in_channels)
        _checks.check_count("out_channels", out_channels)
        _checks.check_count("groups", groups)
        kernel = _checks.as_tuple("kernel_size", kernel_size, dims)
        strides = _checks.as_tuple("stride", stride, dims)
        dilations = _checks.as_tuple("dilation", dilation, dims)
        spec = _checks.parse_padding(padding, dims)
        torch_init: Any = super().__init__  # the constructor of nn.Conv1d, nn.Conv2d or nn.Conv3d
        torch_init(
            in_channels,
            out_channels,
            kernel,
            strides,
            0 if isinstance(spec, str) else spec,
            dilations,
            groups,
            bias,
            self.border if self.border in TORCH_PAD_MODES else "zeros",
            device,
            dtype,
        )
        # torch refuses 'same' with stride > 1; padmods resolves the padding itself in forward
        self.padding = spec

    # ---- settings changed after construction ---------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        """Check and normalise a geometry setting as the constructor does, then set it.

        ``nn.Conv2d`` lets ``layer.padding = 2`` or ``layer.stride = 2`` change what ``forward``
        computes; a padmods layer stores the same one-int-per-axis tuples its constructor makes, so
        it then computes what a layer built with those settings computes.
        """
        if name in self._settings:
            value = self._check_setting(name, value)
            self.__dict__.pop("_plan", None)  # the eager path works its plan out again
        super().__setattr__(name, value)

    def _check_setting(self, name: str, value: Any) -> Any:
        """``value`` checked and normalised for the setting ``name`` (see :meth:`__setattr__`)."""
        dims = self._spatial_dims
        if name == "padding":
            return _checks.parse_padding(value, dims)
        if name in ("kernel_size", "stride", "dilation"):
            return _checks.as_tuple(name, value, dims)
        if name == "padding_mode" and "padding_mode" in self.__dict__ and value != self.padding_mode:
            raise ValueError(
                f"{type(self).__name__}: the class is the padding mode, so padding_mode cannot change from "
                f"{self.padding_mode!r} to {value!r}; build a layer of another mode with padmods.create() "
                "or padmods.convert()"
            )
        if name == "padding_mode":
            return value
        return _checks.check_count(name, value)  # in_channels, out_channels, groups

    # ---- what subclasses implement -------------------------------------------------------------
    @classmethod
    def pad(cls, input: Tensor, pairs: Pairs) -> Tensor:
        """Pad a batched ``input`` by ``pairs``, one ``(before, after)`` per spatial axis, in axis order.

        Args:
            input: Tensor of shape :math:`(N, C, *)`, e.g. :math:`(N, C, H, W)` for a 2-D layer.
            pairs: One pair per spatial axis, e.g. ``((top, bottom), (left, right))``.

        Returns:
            The padded tensor, e.g. of shape :math:`(N, C, H + top + bottom, W + left + right)`.
        """
        if cls.border in ENGINE_BORDERS:
            return explicit_pad(input, pairs, padding_of(cls.border))
        raise NotImplementedError(f"{cls.__name__} must implement the class method pad() or padded_conv()")

    @classmethod
    def padded_conv(
        cls,
        input: Tensor,
        weight: Tensor,
        bias: Optional[Tensor],
        stride: tuple[int, ...],
        pairs: Pairs,
        dilation: tuple[int, ...],
        groups: int,
    ) -> Tensor:
        """The convolution of a checked, batched ``input`` over this mode's border.

        The built-in borders run padmods' engine; any other class pads with :meth:`pad` and
        convolves with padding 0.
        """
        if cls._engine_border in ENGINE_BORDERS:
            return engine_conv(input, weight, bias, stride, pairs, dilation, groups, cls._engine_border)
        return conv(cls.pad(input, pairs), weight, bias, stride, (0,) * len(pairs), dilation, groups)

    @classmethod
    def check_padding(cls, pairs: Pairs, sizes: tuple[int, ...], where: object) -> None:
        """Raise a ``ValueError`` naming ``where`` if ``pairs`` cannot pad an input of ``sizes``."""
        if cls.border in _checks.BORDERS_WITH_LIMITS:
            _checks.check_padding_fits(cls.border, pairs, sizes, where)

    # ---- the hook of nn.Conv1d, nn.Conv2d and nn.Conv3d ------------------------------------------
    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        """The convolution over this layer's border; a plain eager call takes :meth:`_eager_forward`.

        Whether a tracer or a transform watches is decided here, once per call: plain eager calls
        (:func:`padmods._trace.is_plain_eager`) take the eager path, with the layer's padding
        worked out once per setting and the engine's in-place and cached forms; every other call
        (``torch.compile``, ``torch.export``, ``torch.jit.trace``, FX, ``torch.func``, forward-mode
        AD) takes :meth:`_traced_forward`, whose forms a tracer can record for any input size.
        """
        if is_plain_eager():
            return self._eager_forward(input, weight, bias)
        return self._traced_forward(input, weight, bias)

    def _eager_forward(self, input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        """A plain eager call: the common case checked in a few comparisons, anything else fully."""
        plan = self.__dict__.get("_plan") or self._make_plan()
        if not (
            isinstance(input, Tensor)
            and input.dim() == plan.rank
            and input.shape[1] == self.in_channels
            and input.dtype == weight.dtype
            and input.device == weight.device
            and (bias is None or (bias.dtype == weight.dtype and bias.device == weight.device))
            and weight.shape[2:] == self.kernel_size
            and input.is_floating_point()
            and 0 not in input.shape
        ):
            # anything else is checked in full: raises, or accepts (autocast, unbatched, empty batch, ...)
            self._check_operands(input, weight, bias)
            if input.dim() == self._spatial_dims + 1:
                return self._eager_forward(input.unsqueeze(0), weight, bias).squeeze(0)
            return self._padded_forward(input, weight, bias, self._pairs_for(input), eager=True)
        sizes = tuple(input.shape[2:])
        planned = plan.pairs
        if planned is None:  # 'same' with a stride: the padding depends on the size
            pairs = _geometry.resolve_padding(self.padding, sizes, self.kernel_size, self.stride, self.dilation)
            self.check_padding(pairs, sizes, self)
        else:
            pairs = planned
            if plan.minimum is not None and not plan.fits(sizes):
                self.check_padding(pairs, sizes, self)  # raises, naming the layer and the sizes
        return self._padded_forward(input, weight, bias, pairs, eager=True)

    def _make_plan(self) -> _EagerPlan:
        """What the eager path needs of the settings, worked out once and kept until a setting changes."""
        sizes_free = not (isinstance(self.padding, str) and self.padding == "same" and any(s > 1 for s in self.stride))
        pairs = None
        if sizes_free:  # 'valid', 'full', ints, and 'same' with stride 1 do not depend on the size
            pairs = _geometry.resolve_padding(
                self.padding, (0,) * self._spatial_dims, self.kernel_size, self.stride, self.dilation
            )
        plan = _EagerPlan(self._spatial_dims + 2, pairs, self._minimum_sizes(pairs))
        self.__dict__["_plan"] = plan
        return plan

    def _minimum_sizes(self, pairs: Optional[Pairs]) -> Optional[tuple[int, ...]]:
        """The smallest input size per axis that ``pairs`` fits, or ``None`` where every size fits.

        A layer whose limits are not known here (:meth:`_limit_modes` is ``None``, or spherical,
        whose width must also be even) gets an unreachable minimum, so that :meth:`check_padding`
        runs on every input.
        """
        if pairs is None or not any(p for pair in pairs for p in pair):
            return None
        modes = self._limit_modes()
        if modes is None or "spherical" in modes:
            return (1 << 62,) * len(pairs)
        minimum = tuple(
            max(1, max(pair) + _MINIMUM_SIZE[mode]) if mode in _MINIMUM_SIZE and any(pair) else 1
            for pair, mode in zip(pairs, modes, strict=True)
        )
        return None if minimum == (1,) * len(pairs) else minimum

    def _limit_modes(self) -> Optional[tuple[str, ...]]:
        """The mode whose size limits :meth:`check_padding` enforces on each axis; ``None`` if unknown.

        A class that overrides :meth:`check_padding` overrides this too, or gets its check run on
        every call.
        """
        if type(self).check_padding.__func__ is not PaddedConvNd.check_padding.__func__:  # type: ignore[attr-defined]
            return None
        border = self.border if isinstance(self.border, str) else ""
        return (border,) * self._spatial_dims

    def _traced_forward(self, input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        """A call that a tracer records or a transform batches: forms that hold for any input size."""
        if isinstance(input, torch.fx.Proxy):
            # torch.fx.symbolic_trace: the layer becomes one call_function node of conv_forward that
            # runs it on real tensors (the layer and its parameters come in as get_attr nodes), as
            # torch's convolutions become one node; its size-dependent padding and checks cannot run
            # on proxies. A module-level function, so that the GraphModule pickles.
            tracer = input.tracer
            layer = _fx_reference(tracer, self)
            if layer is None:  # not a submodule of the traced root: the bound method (works, does not pickle)
                unbound: Tensor = tracer.create_proxy("call_function", self._conv_forward, (input, weight, bias), {})
                return unbound
            proxy: Tensor = tracer.create_proxy("call_function", conv_forward, (layer, input, weight, bias), {})
            return proxy
        dims = self._spatial_dims
        with constant_checks():  # jit.trace: the shape checks are constants of the trace
            self._check_operands(input, weight, bias)
        if input.dim() == dims + 1:
            return self._traced_forward(input.unsqueeze(0), weight, bias).squeeze(0)
        return self._padded_forward(input, weight, bias, self._pairs_for(input))

    def _check_operands(self, input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> None:
        """Check the input, and that it, the weight, the bias and :attr:`kernel_size` fit together."""
        _checks.check_conv_input(input, self.in_channels, self._spatial_dims, self)
        _checks.check_operands(input, weight, bias, self)
        if tuple(weight.shape[2:]) != self.kernel_size:
            raise ValueError(
                f"{_checks.describe(self)}: kernel_size {self.kernel_size} does not match the kernel of its weight "
                f"{tuple(weight.shape[2:])}; the weight decides the kernel, so set kernel_size to match it"
            )

    def _pairs_for(self, input: Tensor) -> Pairs:
        """The layer's padding resolved for a batched ``input``, checked against its size."""
        sizes = tuple(input.shape[2:])
        pairs = _geometry.resolve_padding(self.padding, sizes, self.kernel_size, self.stride, self.dilation)
        if _geometry.is_static((sizes, pairs)) or torch.compiler.is_compiling():
            # compile and export: the built-in borders turn their checks into run-time asserts of the graph
            self.check_padding(pairs, sizes, self)
        elif torch.jit.is_tracing():
            # jit.trace: the example is checked as eager checks it; the trace's gathers refuse any other size
            # that the padding does not fit (padmods._axis_pad.refuse_beyond_reach)
            with constant_checks():
                example = tuple(int(size) for size in sizes)
                self.check_padding(tuple((int(b), int(a)) for b, a in pairs), example, self)
        return pairs

    def _padded_forward(
        self, input: Tensor, weight: Tensor, bias: Optional[Tensor], pairs: Pairs, *, eager: bool = False
    ) -> Tensor:
        """The convolution of a checked, batched input over resolved ``pairs``.

        ``eager=True``: a plain eager call with int padding (see :meth:`_conv_forward`).
        """
        if eager and self._engine_border in ENGINE_BORDERS:
            return engine_conv(
                input, weight, bias, self.stride, pairs, self.dilation, self.groups, self._engine_border, eager=True
            )
        return self.padded_conv(input, weight, bias, self.stride, pairs, self.dilation, self.groups)

    def extra_repr(self) -> str:
        """The settings that differ from the defaults, as torch's convolutions print them."""
        text = super().extra_repr()
        return text.replace(f", padding_mode={self.padding_mode}", "")

    @property
    def _fx_layer(self) -> PaddedConvNd:
        """The layer itself: what a GraphModule traced from the layer alone holds to call it (:func:`conv_forward`)."""
        return self

    # ---- conversion ----------------------------------------------------------------------------
    @classmethod
    def conversion_refusal(cls, conv: _ConvNd) -> Optional[str]:
        """Why this class cannot take the settings of ``conv``, or ``None`` when it can.

        :func:`padmods.convert` leaves a refused convolution alone (and says so); a mode of your own
        overrides this when some settings of :class:`torch.nn.Conv2d` have no meaning for it.
        """
        return None

    @classmethod
    def from_conv(cls: type[SelfLayer], conv: _ConvNd, *, share_parameters: bool = False, **kwargs: Any) -> SelfLayer:
        """A new layer with the settings and parameters of ``conv``.

        By default the parameters are copied: the layer shares no storage with ``conv``. With
        ``share_parameters=True`` it holds the very ``Parameter`` objects of ``conv`` wherever the
        shapes agree (what :func:`padmods.convert` does, so that an optimizer stays valid), and
        copies the rest. Either way it has the device, dtype, ``requires_grad`` and train/eval
        state of ``conv``. ``conv.padding_mode`` is not carried over: the class is the mode.

        Args:
            conv: Any convolution of the layer's number of axes (:class:`torch.nn.Conv2d` for a 2-D
                layer), padmods layers included.
            share_parameters: Reuse the ``Parameter`` objects of ``conv`` instead of copies.
            **kwargs: Extra constructor arguments of ``cls`` (e.g. ``with_r`` for CoordConv).

        Raises:
            TypeError: ``conv`` is not a convolution with as many spatial axes as the layer.
            ValueError: The weights of ``conv`` cannot be mapped onto ``cls``.

        Examples:
            >>> conv = nn.Conv2d(3, 8, 3, padding=1)
            >>> layer = padmods.ReflectPadConv2d.from_conv(conv)
            >>> torch.equal(layer.weight, conv.weight), layer.weight is conv.weight
            (True, False)
        """
        expected = TORCH_CONVS[cls._spatial_dims]
        if not isinstance(conv, expected):
            raise TypeError(
                f"{cls.__name__}.from_conv expects a torch.nn.{expected.__name__}, got {type(conv).__name__}"
            )
        layer = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            bias=conv.bias is not None,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
            **kwargs,
        )
        for name, source in (("weight", conv.weight), ("bias", conv.bias)):
            if source is None:
                continue
            if share_parameters and isinstance(source, nn.Parameter) and getattr(layer, name).shape == source.shape:
                setattr(layer, name, source)  # the Parameter object itself
                continue
            with torch.no_grad():
                layer._copy_parameter(name, conv)
            getattr(layer, name).requires_grad_(source.requires_grad)
        return layer.train(conv.training)

    def _copy_parameter(self, name: str, conv: _ConvNd) -> None:
        """Copy ``conv``'s parameter ``name`` into this layer's (under ``torch.no_grad()``).

        A CoordConv's weight loses its coordinate taps when this layer has none, provided that they
        are zero (so the layer computes what the CoordConv computed with the same border).
        """
        source, target = getattr(conv, name), getattr(self, name)
        coord_channels = getattr(conv, "coord_channels", 0) if name == "weight" else 0
        if coord_channels and source.shape[1] == target.shape[1] + coord_channels:
            taps = source[:, target.shape[1] :]
            if torch.count_nonzero(taps):
                raise ValueError(
                    f"cannot convert {type(conv).__name__} into {type(self).__name__}: its {coord_channels} "
                    "coordinate taps are not zero, and a layer without coordinate channels would drop them "
                    "(convert to 'coord' with another pad=, or zero weight[:, in_channels:] first)"
                )
            source = source[:, : target.shape[1]]
        if source.shape != target.shape:
            raise ValueError(
                f"cannot copy the {name} of {type(conv).__name__} (shape {tuple(source.shape)}) into "
                f"{type(self).__name__} (shape {tuple(target.shape)})"
            )
        target.copy_(source)


def conv_forward(layer: PaddedConvNd, input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """The convolution of a padmods ``layer`` with ``weight`` and ``bias``: what FX records for the layer.

    :func:`torch.fx.symbolic_trace` records each padmods layer as one ``call_function`` node of this
    function, with the layer, its weight and its bias as ``get_attr`` nodes. It is a module-level
    function, importable by name, so a ``GraphModule`` holding such nodes can be pickled and
    ``torch.save``-d, as one of :class:`torch.nn.Conv2d` can.
    """
    return layer._conv_forward(input, weight, bias)


def _fx_reference(tracer: Any, layer: PaddedConvNd) -> Optional[torch.fx.Proxy]:
    """A ``get_attr`` proxy for ``layer`` in an FX trace, or ``None`` if the traced root does not hold it.

    A layer traced on its own is the root, which has no attribute path of its own: the node gets
    its :attr:`PaddedConvNd._fx_layer`, so the GraphModule holds the layer as the submodule ``_fx_layer``.
    """
    if getattr(tracer, "root", None) is layer:
        return tracer.create_proxy("get_attr", "_fx_layer", (), {})
    try:
        path = tracer.path_of_module(layer)
    except (AttributeError, NameError):  # a tracer without a root, or a layer outside it
        return None
    return tracer.create_proxy("get_attr", path, (), {})


def format_doc(cls: type[PaddedConvNd]) -> type[PaddedConvNd]:
    """Place the shared argument, shape and attribute text for the class's axes into its docstring."""
    dims = cls._spatial_dims
    doc = cls.__doc__ or ""
    for key, text in (("{args}", CONV_ARGS), ("{shape}", SHAPES[dims]), ("{attributes}", ATTRIBUTES[dims])):
        doc = doc.replace(key, text)
    cls.__doc__ = doc
    return cls


class PaddedConv1d(PaddedConvNd, nn.Conv1d):
    """Base class of the 1-D padmods layers: :class:`PaddedConv2d` for :class:`torch.nn.Conv1d`.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    _spatial_dims = 1


class PaddedConv2d(PaddedConvNd, nn.Conv2d):
    """Base class of the 2-D padmods layers: a :class:`torch.nn.Conv2d` whose class decides the border.

    A subclass takes exactly the constructor arguments of :class:`torch.nn.Conv2d` except
    ``padding_mode``, keeps its parameters (``weight``, ``bias``) and output shape, and changes only
    what the convolution sees beyond the border. The built-in layers name their border in the
    class attribute :attr:`border`; a mode of your own implements one of two class methods instead:

    - :meth:`pad`, which pads a batched input explicitly; the convolution then runs with padding 0;
    - :meth:`padded_conv`, the whole convolution, for modes that are more than a padding.

    Both receive the padding already resolved to one ``(before, after)`` pair per spatial axis, so
    ``'same'`` and strides are handled once, here. :class:`PaddedConv1d` and :class:`PaddedConv3d`
    are the same for :class:`torch.nn.Conv1d` and :class:`torch.nn.Conv3d`.

    As with :class:`torch.nn.Conv2d`, ``padding``, ``stride`` and ``dilation`` may change after
    construction (``layer.padding = 2``): they are checked and stored as the constructor stores
    them, so the layer then computes what a layer built with them computes. ``kernel_size`` must
    keep matching the weight, and ``padding_mode`` cannot change: the class is the mode. Integers
    may be any integer type torch takes (``numpy.int64`` included), but not bools or floats.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    _spatial_dims = 2


class PaddedConv3d(PaddedConvNd, nn.Conv3d):
    """Base class of the 3-D padmods layers: :class:`PaddedConv2d` for :class:`torch.nn.Conv3d`.

    Args:
        {args}

    Shape:
        {shape}

    Attributes:
        {attributes}
    """

    _spatial_dims = 3


for _base in (PaddedConv1d, PaddedConv2d, PaddedConv3d):
    format_doc(_base)
del _base
