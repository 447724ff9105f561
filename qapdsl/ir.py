"""The IR: what a spec means, as frozen Pydantic models.

Plain data, no behaviour that needs TensorFlow. Every node that came from the
source keeps its `span`, so a later stage can still point at the line. The
IR serialises to JSON and back (`qapc check --emit-ir`, `Spec.model_validate_json`).

Conventions:
- fixed-point types are stored in hls4ml's notation: `width` total bits,
  `integer` integer bits *including* the sign bit for signed types;
  `qapdsl.quant` owns the mapping to QKeras quantizers.
- fractions (sparsity, rates, splits) are floats in [0, 1].
- times are in nanoseconds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from qapdsl.source import Span

IR_VERSION = 1

LayerKind = Literal["dense", "conv1d", "conv2d", "maxpool", "avgpool", "flatten", "batchnorm", "activation", "dropout"]
Activation = Literal["relu", "softmax", "sigmoid", "tanh", "linear"]
QuantKind = Literal["fixed", "bits", "po2", "binary", "ternary", "float"]
DataSource = Literal["openml", "file", "sklearn"]


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Learned(Node):
    """A learned bit width (`learned fixed<8,3> per weight beta 1e-5`): the quantizer it is written on
    gives the starting width, HGQ2 trains the widths against its EBOPs resource term weighted by
    `beta` (`qapdsl.learned`). `beta_end`: a schedule, geometric from `beta` at the first epoch to
    `beta_end` at the last."""

    granularity: Literal["weight", "channel", "layer"] = "weight"
    beta: float = 1e-5
    beta_end: float | None = None
    span: Span | None = None  # the word `learned`
    spans: dict[str, Span] = Field(default_factory=dict)  # where `per` and `beta` were written


class Quant(Node):
    """One tensor's number format.

    kind `fixed`: a fixed-point grid `fixed<width,integer>` (signed) or
    `ufixed<width,integer>`; `bits`: `N bits int K`, a QKeras-style width whose
    signedness follows the tensor (unsigned after relu, signed elsewhere) and
    whose `integer` counts integer bits *without* the sign; `po2`: powers of two with `width` bits;
    `binary` (±1) and `ternary` (-1, 0, +1); `float`: left unquantized.
    """

    kind: QuantKind
    width: int = 32
    integer: int = 0
    signed: bool = True
    alpha: str | None = None  # QKeras alpha; None means alpha=1 (see DESIGN)
    learned: Learned | None = None  # the width is trained from this starting point (HGQ2)
    span: Span | None = None

    @model_serializer(mode="wrap")
    def _without_unlearned(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A fixed-width quantizer serialises as before learned widths existed (manifests stay byte-stable)."""
        out: dict[str, Any] = handler(self)
        if self.learned is None:
            out.pop("learned", None)
        return out

    @property
    def bits(self) -> int:
        """Bits per value for BOPs and memory: a float counts as 32."""
        if self.kind == "float":
            return 32
        if self.kind == "binary":
            return 1
        if self.kind == "ternary":
            return 2
        return self.width


class Precision(Node):
    """An hls4ml precision written in a spec (result / accum overrides)."""

    signed: bool
    width: int
    integer: int
    rounding: str | None = None
    saturation: str | None = None
    span: Span | None = None


class QuantSet(Node):
    """Quantizers for the tensors of a layer; None = not set here (inherit)."""

    weights: Quant | None = None
    bias: Quant | None = None
    activations: Quant | None = None
    inputs: Quant | None = None  # model-wide only: the network input


class Layer(Node):
    kind: LayerKind
    name: str
    units: int | None = None  # dense units, conv filters
    kernel: tuple[int, ...] | None = None
    stride: tuple[int, ...] | None = None
    padding: Literal["valid", "same"] = "valid"
    pool: tuple[int, ...] | None = None
    activation: Activation | None = None
    rate: float | None = None  # dropout
    batchnorm: bool = False  # a batch norm between this layer and its activation
    use_bias: bool = True
    l1: float | None = None
    l2: float | None = None
    quant: QuantSet = Field(default_factory=QuantSet.model_construct)  # all None: nothing to validate
    reuse: int | None = None
    result: Precision | None = None
    accum: Precision | None = None
    span: Span | None = None
    spans: dict[str, Span] = Field(default_factory=dict)  # where each setting was written ("name", "kernel", "reuse", ...)


class Model(Node):
    name: str
    base: str | None = None  # the model it was derived from
    input_shape: tuple[int, ...]
    quant: QuantSet = Field(default_factory=QuantSet.model_construct)  # all None: nothing to validate
    layers: tuple[Layer, ...]
    span: Span | None = None
    input_span: Span | None = None
    name_span: Span | None = None


class Schedule(Node):
    """Pruning schedule.

    constant / polynomial: tfmot's ConstantSparsity / PolynomialDecay, steps
    in optimizer steps. iterative: the paper's iterative magnitude pruning,
    `rounds` rounds, each removing `rate` of the weights still there.
    """

    kind: Literal["constant", "polynomial", "iterative"]
    target: float | None = None  # final sparsity (constant, polynomial)
    initial: float = 0.0  # polynomial
    begin_step: int = 0
    end_step: int | None = None  # None: the end of training
    frequency: int = 100
    power: float = 3.0
    rounds: int = 11
    rate: float = 0.2
    rewind: Literal["none", "init"] = "none"
    epochs_per_round: int | None = None  # None: train.epochs
    span: Span | None = None

    @property
    def final_sparsity(self) -> float:
        if self.kind == "iterative":
            return 1.0 - (1.0 - self.rate) ** self.rounds
        return float(self.target or 0.0)


class Prune(Node):
    method: Literal["magnitude"] = "magnitude"
    scope: Literal["global", "layer"] = "global"
    select: tuple[str, ...] = ("*",)  # globs over layer names
    skip: tuple[str, ...] = ()
    bias: bool = False
    schedule: Schedule
    span: Span | None = None
    spans: dict[str, Span] = Field(default_factory=dict)  # where each key was written
    layers: tuple[str, ...] = ()  # the weight layers the selectors resolve to, in model order


class Data(Node):
    source: DataSource
    name: str  # openml name or id, file path (relative to the spec), sklearn dataset
    target: str | None = None  # label column for tabular files
    span: Span | None = None


class Train(Node):
    data: Data
    test: float = 0.2
    val: float = 0.25
    scale: Literal["standard", "minmax", "none"] = "standard"
    seed: int = 42
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    lr: float = 1e-4
    loss: Literal["categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "mse"] = "categorical_crossentropy"
    batch: int = 1024
    epochs: int = 250
    patience: int | None = None  # early stopping on val_loss
    classes: int | None = None
    dialect: Literal["qkeras", "hgq2", "brevitas"] = "qkeras"  # the training framework the build targets
    span: Span | None = None
    spans: dict[str, Span] = Field(default_factory=dict)  # where each key was written ("split", "classes", ...)


class Rtl(Node):
    """`rtl verilog { pipeline N; synth on }` in the target: the network as RTL from da4ml, simulated with
    Verilator against the trained model, with its hardware cost (`qapdsl.rtlcaps` says what it can build)."""

    language: Literal["verilog", "vhdl"] = "verilog"
    pipeline: int | None = None  # adder levels between registers (da4ml's latency_cutoff); None: combinational
    synth: bool = True  # Yosys synthesis when yosys is on PATH
    span: Span | None = None
    spans: dict[str, Span] = Field(default_factory=dict)  # where each setting (and the language: "language") was written


class Target(Node):
    kind: Literal["fpga"] = "fpga"
    backend: Literal["vivado", "vitis", "quartus", "oneapi", "catapult"] = "vitis"
    part: str = "xcu250-figd2104-2L-e"
    clock_ns: float = 5.0
    io: Literal["parallel", "stream"] = "parallel"
    strategy: Literal["latency", "resource", "distributed_arithmetic"] = "latency"
    reuse: int = 1
    precision: Precision | None = None  # model-wide default precision (hls4ml Model.Precision)
    agreement: float = 0.99  # least QKeras ↔ HLS (and ↔ RTL) argmax agreement for `qapc run` to succeed
    rtl: Rtl | None = None  # also the network as RTL (da4ml), simulated and costed
    span: Span | None = None
    spans: dict[str, Span] = Field(default_factory=dict)  # where each key was written


SweepValue = int | float | str | Quant


class Axis(Node):
    """One sweep or search axis: a dotted path and its values (or a range)."""

    path: str
    values: tuple[SweepValue, ...] = ()
    low: float | None = None  # search ranges
    high: float | None = None
    integer: bool = False
    log: bool = False
    span: Span | None = None
    value_spans: tuple[Span, ...] = ()  # where each value (list) or each end (range: low, high) was written


Metric = Literal["accuracy", "auc", "bops", "memory", "params", "luts", "rtl_cost"]


class Objective(Node):
    """One axis of a study's trade-off: a figure and whether more or less of it is better."""

    metric: Metric
    direction: Literal["maximize", "minimize"]
    span: Span | None = None


class Baseline(Node):
    """A spec a study compares with (the float model): run with the study's seeds, never searched."""

    path: str  # as written, relative to the spec that names it
    spec: Spec | None = None  # loaded and checked by the loader (None only while lowering)
    span: Span | None = None


class Study(Node):
    """What sweeps and searches share: what is compared, how often each point runs, against what."""

    axes: tuple[Axis, ...]
    objectives: tuple[Objective, ...] = ()  # as written; qapdsl.objectives gives the defaults
    repeat: int = 1  # seeds per point: train.seed, train.seed + 1, ...
    baseline: Baseline | None = None
    reference: dict[str, float] = Field(default_factory=dict)  # hypervolume reference point, by metric
    span: Span | None = None
    spans: dict[str, Span] = Field(default_factory=dict)  # where each key was written


class Sweep(Study):
    pass


class Search(Study):
    budgets: dict[str, float] = Field(default_factory=dict)  # metric -> the most a point may have
    trials: int = 20
    sampler: Literal["tpe", "nsga2", "random", "cmaes"] = "tpe"
    population: int | None = None  # NSGA-II


class SourceRef(Node):
    path: str
    sha256: str


class Spec(Node):
    """A whole checked spec: the one model to build and how."""

    ir_version: int = IR_VERSION
    model: Model
    prune: Prune | None = None
    train: Train
    target: Target = Field(default_factory=Target)
    sweep: Sweep | None = None
    search: Search | None = None
    sources: tuple[SourceRef, ...] = Field(default=())  # the spec first, then its imports
