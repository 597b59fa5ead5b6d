"""Data: generated data sets (points, images, sequences), input features, splits and the
user's own points.

Numerics only (numpy): nothing here knows about the web API or the engine.
"""

from .datasets import DATASETS, MAX_CLASSES, MAX_NOISE, Dataset, generate
from .errors import DataError
from .features import FEATURES, Feature, apply_features, check_features
from .sequences import SEQUENCE_SETS, Sequences, SequenceSet, parse_sequences_npz, sequence_set
from .splits import MAX_TRAIN_FRACTION, MIN_TRAIN_FRACTION, split
from .uploads import MAX_ROWS, UserData, load_user_data, parse_csv, parse_json, read_json

__all__ = ["DATASETS", "FEATURES", "MAX_CLASSES", "MAX_NOISE", "MAX_ROWS", "MAX_TRAIN_FRACTION",
           "MIN_TRAIN_FRACTION", "SEQUENCE_SETS", "DataError", "Dataset", "Feature", "SequenceSet",
           "Sequences", "UserData", "apply_features", "check_features", "generate",
           "load_user_data", "parse_csv", "parse_json", "parse_sequences_npz", "read_json",
           "sequence_set", "split"]
