"""Data: generated data sets, input features, splits and the user's own points.

Numerics only (numpy): nothing here knows about the web API or the engine.
"""

from .datasets import DATASETS, MAX_CLASSES, MAX_NOISE, Dataset, generate
from .errors import DataError
from .features import FEATURES, Feature, apply_features, check_features
from .splits import MAX_TRAIN_FRACTION, MIN_TRAIN_FRACTION, split
from .uploads import MAX_ROWS, UserData, load_user_data, parse_csv, parse_json, read_json

__all__ = ["DATASETS", "FEATURES", "MAX_CLASSES", "MAX_NOISE", "MAX_ROWS", "MAX_TRAIN_FRACTION",
           "MIN_TRAIN_FRACTION", "DataError", "Dataset", "Feature", "UserData", "apply_features",
           "check_features", "generate", "load_user_data", "parse_csv", "parse_json",
           "read_json", "split"]
