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
)}
