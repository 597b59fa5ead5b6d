"""Data: generated data sets, input features, splits and the user's own points."""

from .datasets import DATASETS, Dataset, generate
from .errors import DataError
from .features import FEATURES, Feature, apply_features
from .splits import split
from .uploads import UserData, load_user_data, parse_csv, parse_json

__all__ = ["DATASETS", "FEATURES", "DataError", "Dataset", "Feature", "UserData",
           "apply_features", "generate", "load_user_data", "parse_csv", "parse_json", "split"]
