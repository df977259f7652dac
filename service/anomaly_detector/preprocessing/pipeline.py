"""The scikit-learn transformer fitted as the first step of every model.

Built from a ``FeatureSchema`` and fitted by training; saved in the bundle, so the
service takes raw values. ``compiled.py`` turns the fitted transformer into index
arrays for the hot path.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.preprocessing import signed_log1p


def build_preprocessor(schema: FeatureSchema) -> ColumnTransformer:
    """The transformer from raw columns (as given by ``schema.coerce_frame``) to model inputs.

    Heavy-tailed columns: median imputation, then ``signed_log1p``. Other numeric
    columns: median imputation. Categorical columns: ordinal codes in sorted
    category order; unseen categories and missing values become -1, a code of
    their own that a tree can isolate.
    """
    by_kind: dict[str, list[str]] = {"log_numeric": [], "numeric": [], "categorical": []}
    for feature in schema.features:
        by_kind[feature.kind].append(feature.name)
    transformers = []
    if by_kind["log_numeric"]:
        log_steps = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
            ]
        )
        transformers.append(("log_numeric", log_steps, by_kind["log_numeric"]))
    if by_kind["numeric"]:
        imputer = SimpleImputer(strategy="median", keep_empty_features=True)
        transformers.append(("numeric", imputer, by_kind["numeric"]))
    if by_kind["categorical"]:
        categories = [list(f.categories) for f in schema.features if f.is_categorical]
        encoder = OrdinalEncoder(
            categories=categories,
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            dtype=np.float64,
        )
        transformers.append(("categorical", encoder, by_kind["categorical"]))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
