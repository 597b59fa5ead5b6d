"""Lessons: ready-made experiments that walk through a first deep-learning course.

Each preset is an experiment config and the number of epochs that shows its point;
tests/test_lessons.py runs every preset and checks that what the text claims happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PLAYGROUND_FEATURES = ["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2"]


@dataclass(frozen=True)
class Preset:
    label: str
    config: dict[str, Any]
    epochs: int


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    text: str
    presets: tuple[Preset, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "text": self.text,
                "presets": [{"label": p.label, "config": p.config, "epochs": p.epochs}
                            for p in self.presets]}


def _net(*units: int, activation: str = "tanh") -> list[dict[str, Any]]:
    return [{"units": u, "activation": activation} for u in units]


def _conv(filters: int, kernel: int, activation: str = "relu",
          padding: str = "same") -> dict[str, Any]:
    return {"type": "conv", "filters": filters, "kernel": kernel, "stride": 1,
            "padding": padding, "activation": activation}


def _pool(kind: str = "max", size: int = 2) -> dict[str, Any]:
    return {"type": "pool", "kind": kind, "size": size}


def _recurrent(kind: str, units: int, activation: str | None = None,
               sequences: bool = False) -> dict[str, Any]:
    layer = {"type": kind, "units": units, "return_sequences": sequences}
    return layer if activation is None else {**layer, "activation": activation}


def _seq(dataset: str, layers: list[dict[str, Any]], epochs: int, label: str,
         **extra: Any) -> Preset:
    """A preset on a sequence set: Adam 0.01 unless it says otherwise."""
    return Preset(label, _cfg(dataset, layers, **{
        "optimizer": {"name": "adam", "learning_rate": 0.01}, **extra}), epochs)


MNIST1D_NETS = (  # the paper's MLP and CNN (Greydanus 2020), the GRU and RNN
    ("dense 100, 100", _net(100, 100, activation="relu")),
    ("conv 25 filters x 3, stride 2",
     [{**_conv(25, k), "stride": 2} for k in (5, 3, 3)]),
    ("GRU, 32 units", [_recurrent("gru", 32)]),
    ("tanh RNN, 32 units", [_recurrent("rnn", 32, "tanh")]))


def _cfg(dataset: str, layers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data = {"name": dataset, **extra.pop("data", {})}
    return {"dataset": data, "hidden_layers": layers, **extra}


LESSONS: dict[str, Lesson] = {lesson.id: lesson for lesson in (
    Lesson("linear", "Linear and non-linear data",
           "Logistic regression, a network with no hidden layer, draws one straight line. "
           "It separates the two gaussian clouds, but no line separates a disc from the "
           "ring around it: that needs a hidden layer.",
           (Preset("gauss, no hidden layer", _cfg("gauss", [], optimizer={
               "name": "sgd", "learning_rate": 0.03}), 50),
            Preset("circle, no hidden layer", _cfg("circle", []), 100),
            Preset("circle, one hidden layer of 4", _cfg("circle", _net(4)), 200))),
    Lesson("xor", "XOR needs a hidden layer, or the x1 x2 feature",
           "Minsky and Papert's point: one neuron cannot learn XOR. Give it the product "
           "x1 x2 as an input and a single neuron can; or keep x1 and x2 and add a hidden "
           "layer, which learns such a feature by itself.",
           (Preset("x1, x2, no hidden layer", _cfg("xor", [], optimizer={
               "name": "sgd", "learning_rate": 0.1}), 100),
            Preset("with the x1 x2 feature", _cfg("xor", [], features=["x1", "x2", "x1_x2"],
                                                 optimizer={"name": "sgd",
                                                            "learning_rate": 0.1}), 100),
            Preset("x1, x2, a hidden layer of 6", _cfg("xor", _net(6)), 300))),
    Lesson("initialization", "Initialization",
           "With all weights zero, every neuron of a layer computes the same thing and gets "
           "the same update: symmetry is never broken. Small random weights (0.01) break "
           "it, but the signal that reaches the output is tiny and learning crawls. He "
           "initialization (variance 2 / n_in) keeps relu layers lively: it learns at once.",
           tuple(Preset(label, _cfg("circle", _net(8, 8, 8, activation="relu"), init=init),
                        100)
                 for label, init in (("zeros", {"name": "zeros"}),
                                     ("small random", {"name": "normal", "scale": 0.01}),
                                     ("He", {"name": "he"})))),
    Lesson("learning-rate", "The learning rate: too small, right, too large",
           "Gradient descent steps lr times the gradient. Too small and the loss barely "
           "moves; right and it falls fast; too large and each step overshoots further "
           "until the loss is infinite: the run diverges and the playground says so.",
           tuple(Preset(f"learning rate {lr:g}",
                        _cfg("reg-plane", _net(4), problem="regression",
                             optimizer={"name": "sgd", "learning_rate": lr}), 100)
                 for lr in (0.00001, 0.01, 3.0))),
    Lesson("overfitting", "Overfitting, then L2 and dropout",
           "Few noisy points and a big network: it learns the training points by heart "
           "(training loss near 0) while the test loss grows. An L2 penalty (weight "
           "decay) or dropout keeps the weights from fitting the noise, and the test "
           "loss and accuracy improve.",
           tuple(Preset(label, _cfg("spiral", _net(16, 16, 16, activation="relu"),
                                    data={"n_samples": 120, "noise": 0.2},
                                    init={"name": "he"},
                                    optimizer={"name": "adam", "learning_rate": 0.01}, **extra),
                        500)
                 for label, extra in (("no regularization", {}),
                                      ("L2, rate 0.01", {"regularization": {
                                          "name": "l2", "rate": 0.01}}),
                                      ("dropout 0.3", {"dropout": 0.3})))),
    Lesson("mini-batch", "Mini-batch and full batch",
           "Full-batch gradient descent makes one step per epoch; mini-batches of 10 make "
           "25 steps per epoch on 250 points, each a little noisier. For the same number "
           "of epochs, mini-batches get much further.",
           tuple(Preset(f"batch {b}", _cfg("circle", _net(4, 2), batch_size=b), 50)
                 for b in (10, "full"))),
    Lesson("optimizers", "Momentum and Adam against plain SGD",
           "With the same small learning rate, momentum accumulates a velocity along "
           "consistent directions, and Adam also scales each step by a running average of "
           "squared gradients: both get much further than plain SGD in the same epochs.",
           tuple(Preset(name, _cfg("spiral", _net(8, 8, 8), features=PLAYGROUND_FEATURES,
                                   optimizer={"name": name, "learning_rate": 0.003}), 100)
                 for name in ("sgd", "momentum", "adam"))),
    Lesson("vanishing-gradients", "Vanishing gradients, and what relu or batch norm change",
           "In a deep sigmoid network every layer multiplies the gradient by at most 1/4: "
           "after 8 layers the first layer's gradient is a millionth of the last one's and "
           "nothing learns. Relu keeps gradients of size 1 where it is active; batch norm "
           "keeps every layer's inputs in the useful range.",
           tuple(Preset(label, _cfg("circle", _net(*[8] * 8, activation=act),
                                    batch_norm=bn), 100)
                 for label, act, bn in (("8 sigmoid layers", "sigmoid", False),
                                        ("8 relu layers", "relu", False),
                                        ("8 sigmoid layers with batch norm", "sigmoid",
                                         True)))),
    Lesson("multi-class", "More than two classes: softmax",
           "For k classes the output layer has k units and a softmax turns them into "
           "probabilities; the loss is the cross-entropy -log p of the right class. Each "
           "colour is a class.",
           (Preset("4 blobs", _cfg("blobs", _net(6, 6), data={"classes": 4, "noise": 0.1}),
                   100),
            Preset("3 spiral arms", _cfg("spiral", _net(16, 16, 16, 16, activation="relu"),
                                         data={"classes": 3, "n_samples": 600},
                                         features=PLAYGROUND_FEATURES, init={"name": "he"},
                                         optimizer={"name": "adam", "learning_rate": 0.005}),
                   600))),
    Lesson("dense-vs-conv", "A dense net against a small conv net on the digits",
           "A dense layer joins every pixel of the 8 x 8 digits to every unit: 64 units make "
           "4 810 parameters with the output layer, and about 97 % of the test digits right. "
           "A conv layer slides eight 3 x 3 filters over the image, the same 80 parameters "
           "at every place, and a 2 x 2 max pool halves the maps: 1 370 parameters in all, under "
           "a third, and about 98 % right. A dense net as small as that (16 units, 1 210 "
           "parameters) gets about 96 %. Compare the parameters and the test accuracy of the "
           "three.",
           tuple(Preset(label, _cfg("digits", layers, features=[], init={"name": "he"},
                                    optimizer={"name": "adam", "learning_rate": 0.01}), 20)
                 for label, layers in (
                     ("dense, 64 units", _net(64, activation="relu")),
                     ("dense, 16 units", _net(16, activation="relu")),
                     ("conv, 8 filters 3 x 3, max pool 2", [_conv(8, 3), _pool()])))),
    Lesson("first-filters", "What the first layer's filters learn on the shapes",
           "Each filter of the first conv layer is a 5 x 5 picture of what it looks for; they "
           "start as random speckle. Trained on the shapes with a little L2, they turn into "
           "stripes and edges: look for a horizontal one, a vertical one and the two "
           "diagonals. Open a horizontal line (in the confusion matrix, click the cell where "
           "the horizontal line row meets its own column, then one of its images): the "
           "horizontal filter's map lights up along it, the vertical one's stays dark; for "
           "each direction the best filter answers its "
           "lines at least 3 times as strongly as lines at right angles. Without L2 the net "
           "is nearly as accurate (about 94 % of the test shapes, against about 96 %), but "
           "its filters keep much of their random start: weight decay shrinks every weight "
           "the data does not need.",
           tuple(Preset(label, _cfg("shapes", [_conv(8, 5), _pool()], features=[],
                                    data={"n_samples": 1000, "noise": 0.1},
                                    init={"name": "he"},
                                    optimizer={"name": "adam", "learning_rate": 0.01}, **extra),
                        30)
                 for label, extra in (("8 filters 5 x 5, L2 0.01", {"regularization": {
                                          "name": "l2", "rate": 0.01}}),
                                      ("the same without L2", {})))),
    Lesson("lenet-5", "LeNet-5, as the course gives it",
           "LeNet-5 is conv 6 filters 5 x 5, average pool 2, conv 16 filters 5 x 5, average "
           "pool 2, dense 120, dense 84, softmax 10, all tanh, on 32 x 32 grey images. The "
           "digits here are 8 x 8, and by (n - f + 2p) / s + 1 an unpadded 5 x 5 filter "
           "leaves 4 x 4 of them and the pool 2 x 2, where the second conv's 5 x 5 cannot "
           "fit. So, as MNIST's 28 x 28 digits were padded to 32 x 32 for LeNet, these are "
           "resampled to 32 x 32 (the data set's side). The maps then go 28 x 28, 14 x 14, "
           "10 x 10, 5 x 5, and the network has "
           "61 706 parameters, 48 120 of them in the first dense layer (400 x 120 + 120): "
           "the two convs, which do the seeing, have 2 572. The loss starts near ln 10 = 2.30 "
           "(an even guess over 10 classes), and plain SGD gets about 97 % of the test "
           "digits right in 20 epochs.",
           (Preset("LeNet-5 on the digits at 32 x 32", _cfg(
               "digits", [_conv(6, 5, "tanh", "valid"), _pool("avg"),
                          _conv(16, 5, "tanh", "valid"), _pool("avg"), *_net(120, 84)],
               data={"side": 32}, features=[],
               optimizer={"name": "sgd", "learning_rate": 0.1}), 20),)),
    Lesson("rnn-sine", "The course's RNN on a sine wave",
           "A recurrent layer keeps a state, s_t = f(U x_t + W s_(t-1) + b), and gives V s_t "
           "at every step, with the same U, W and V at every step. Here 16 units read sine "
           "waves of random period, phase and amplitude and predict the next value at every "
           "step, by squared error, with the gradient clipped (to norm 1) as the course clips "
           "it. The course's f is the sigmoid; tanh, centred on 0 and with a slope up to 1 "
           "where the sigmoid's is at most 1/4, learns faster: in 30 epochs its test loss "
           "falls below 0.003, over 15 times less than repeating the current value (about "
           "0.05), while the sigmoid's stays over 1.5 times higher. Pick a test wave: the "
           "prediction follows it. Its error is largest at the first step (about 0.2: one "
           "value fits any wave) and under 0.03 from the eighth step on, once the state has "
           "seen enough of the wave to know its period.",
           tuple(_seq("sine", [_recurrent("rnn", 16, act, sequences=True)], 30,
                      f"{act} RNN, 16 units", problem="regression",
                      optimizer={"name": "adam", "learning_rate": 0.01, "clip_norm": 1.0})
                 for act in ("tanh", "sigmoid"))),
    Lesson("sine-vs-triangle", "Sine against triangle",
           "The course's NumPy RNN tells sine waves from triangle waves. Both rise from 0 and "
           "come back, so a few steps of either look alike: only the shape of a longer "
           "stretch tells them apart. A GRU of 8 units reads the wave and the output layer "
           "reads its last state; in 40 epochs it gets about 99 % of the test waves right. "
           "Open the states: the average state of the sines and that of the triangles are "
           "close at first, less than 0.3 of their spread apart after 5 steps, and part as "
           "more of the wave is seen, over 1.5 spreads apart at the last step, where the "
           "output layer reads them.",
           (_seq("waves", [_recurrent("gru", 8)], 40, "GRU, 8 units",
                 data={"n_samples": 1000, "classes": 2}, batch_size=20,
                 optimizer={"name": "adam", "learning_rate": 0.01, "clip_norm": 1.0}),)),
    Lesson("vanishing-gradients-rnn", "Vanishing gradients through time: RNN against LSTM",
           "Backpropagation through time multiplies the gradient, at each step back, by the "
           "recurrent weights W and the slope of tanh. Look at the gradient through time of "
           "a fresh network (40 steps, 16 units). With small weights (normal, scale 0.1) a "
           "tanh RNN's gradient at the first step is below 1e-12 of the last step's: it has "
           "vanished, and the start of a wave teaches nothing. An LSTM with the same weights "
           "carries it along its cell, multiplied at each step only by its forget gate "
           "(about 0.73 at the start: its bias is 1): about 1e-5, millions of times more. "
           "With large weights (scale 1) the RNN's gradient grows instead, over 1 000 times "
           "toward the first step on a typical test sequence (it explodes: the next lesson), "
           "while the LSTM's stays within a factor 3; each sequence differs, so step through "
           "a few (sequence 1 is one of the mildest). Orthogonal W, the default, leaves the "
           "RNN's between 1e-4 and 1e-2. Trained 40 epochs on sine against triangle with "
           "orthogonal W, the LSTM gets about 99 % right and the RNN under 75 %; with large "
           "weights the RNN stays at chance, about 50 %.",
           tuple(_seq("waves", [_recurrent(kind, 16, "tanh" if kind == "rnn" else None)], 40,
                      f"{name}, {label}", init=init, batch_size=20,
                      data={"n_samples": 1000, "classes": 2},
                      optimizer={"name": "adam", "learning_rate": 0.01, "clip_norm": 1.0})
                 for label, init in (
                     ("small weights", {"name": "normal", "scale": 0.1, "recurrent": "init"}),
                     ("large weights", {"name": "normal", "scale": 1.0, "recurrent": "init"}),
                     ("orthogonal W", {"name": "xavier"}))
                 for kind, name in (("rnn", "tanh RNN"), ("lstm", "LSTM")))),
    Lesson("exploding-gradients", "Exploding gradients, tamed by clipping",
           "With large recurrent weights the gradient explodes. 16 relu units whose W is "
           "drawn normal with scale 0.5 have eigenvalues up to about 2, and at the start the "
           "gradient at the first of 40 steps is over 1 000 times the last step's. On the "
           "sine waves plain SGD at 0.01 takes its steps and the loss becomes infinite in "
           "the first epoch: the run diverges and the playground says so. Clip the "
           "gradient's norm to 1 (optimizer.clip_norm, Pascanu et al. 2013): no step is "
           "then longer than the learning rate, and in 30 epochs the test loss falls below "
           "0.03.",
           tuple(_seq("sine", [_recurrent("rnn", 16, "relu", sequences=True)], 30, label,
                      problem="regression",
                      init={"name": "normal", "scale": 0.5, "recurrent": "init"},
                      optimizer={"name": "sgd", "learning_rate": 0.01, "clip_norm": clip})
                 for label, clip in (("no clipping", None), ("clip_norm 1", 1.0)))),
    Lesson("mnist1d", "MNIST-1D: dense, conv, GRU and a plain RNN",
           "MNIST-1D (Greydanus 2020) draws each digit as a line of 40 steps, then shifts, "
           "shears and noises it: 4 000 to train on, 1 000 to test. Adam 0.01, batch 100, "
           "20 epochs. A dense net of 100 and 100 relu units gets about 66 %: it sees each "
           "step at its place, and a shift moves the digit. Three conv layers, the same "
           "filters at every step, get about 91 %; a GRU of 32 units, reading step by step "
           "and keeping what matters in its state, about 95 %. A plain tanh RNN of 32 units "
           "learns next to nothing, under 20 % where guessing gets 10 %: its gradient "
           "vanishes over the 40 steps. With PyTorch in 60 epochs the same dense net got "
           "0.65 to 0.68, the GRU 0.96 and the RNN 0.10; the paper "
           "reports MLP 68 %, CNN 94 %, GRU 91 %.",
           tuple(_seq("mnist1d", layers, 20, label, features=[], batch_size=100,
                      data={"train_fraction": 0.8})
                 for label, layers in MNIST1D_NETS)),
)}
