"""Per-feature contributions of a LightGBM model along decision paths, vectorised: fast enough per request.

LightGBM's ``pred_contrib`` (TreeSHAP) costs O(leaves · depth²) per tree and row: about 1.7 ms per
row with the demo's 96 trees of 31 leaves, 34 ms for the 20 items of one list, the slowest step
of a deal list. Path attribution (Saabas; ``treeinterpreter``) follows each row's path through
each tree and credits the change of the node value at every split to the split's feature:

    contribution[f] = Σ over trees, Σ over splits on f on the path: value(child) − value(node)
    bias = Σ over trees value(root);  bias + Σ contributions = the raw score, exactly.

It is O(depth) per tree and row, and here one NumPy step per tree level for all rows and trees
at once. Its attributions differ from SHAP's (it favours features split on near the leaves), but
the explanation only names the few features that raised or lowered a score most, and both
methods sum to the score. :class:`PathExplainer` follows LightGBM's own decision rule for
missing values (``missing_type`` None / Zero / NaN, ``default_left``), so paths match ``predict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ZERO = 1e-35  # LightGBM's kZeroThreshold
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


class PathExplainer:
    """Decision-path contributions of a booster's first ``num_iteration`` trees.

    Raises:
        ValueError: the model has categorical splits (not supported: use ``pred_contrib``).
    """

    def __init__(self, booster: Any, num_iteration: int | None = None) -> None:
        dump = booster.dump_model(num_iteration=num_iteration or None)
        self.n_features = int(dump["max_feature_idx"]) + 1
        feature, threshold, left, right, value, default_left, missing = [], [], [], [], [], [], []
        roots = []

        def add(node: dict[str, Any]) -> int:
            i = len(feature)
            feature.append(-1)
            threshold.append(0.0)
            left.append(-1)
            right.append(-1)
            default_left.append(False)
            missing.append(0)
            if "leaf_value" in node:
                value.append(float(node["leaf_value"]))
                return i
            if node.get("decision_type", "<=") != "<=":
                raise ValueError("categorical splits are not supported by PathExplainer")
            value.append(float(node["internal_value"]))
            feature[i] = int(node["split_feature"])
            threshold[i] = float(node["threshold"])
            default_left[i] = bool(node.get("default_left", True))
            missing[i] = _MISSING.get(str(node.get("missing_type", "None")), 0)
            left[i] = add(node["left_child"])
            right[i] = add(node["right_child"])
            return i

        for tree in dump["tree_info"]:
            roots.append(add(tree["tree_structure"]))
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.value = np.asarray(value, dtype=np.float64)
        self.default_left = np.asarray(default_left, dtype=bool)
        self.missing = np.asarray(missing, dtype=np.int8)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.bias = float(self.value[self.roots].sum()) if len(self.roots) else 0.0

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """``(n, n_features + 1)``: per-feature contributions, then the bias (the layout of ``pred_contrib``)."""
        X = np.asarray(X, dtype=np.float64)
        n, nf = len(X), self.n_features
        out = np.zeros((n, nf + 1), dtype=np.float64)
        out[:, nf] = self.bias
        if n == 0 or len(self.roots) == 0:
            return out
        rows = np.repeat(np.arange(n), len(self.roots))
        cur = np.tile(self.roots, n)
        flat = np.zeros(n * nf, dtype=np.float64)
        while True:
            inner = self.feature[cur] >= 0
            if not inner.any():
                break
            rows, cur = rows[inner], cur[inner]
            f = self.feature[cur]
            x = X[rows, f]
            miss = self.missing[cur]
            nan = np.isnan(x)
            x = np.where(nan & (miss != 2), 0.0, x)  # without NaN handling LightGBM reads NaN as 0
            default = ((miss == 1) & (np.abs(x) <= _ZERO)) | ((miss == 2) & nan)
            go_left = np.where(default, self.default_left[cur], x <= self.threshold[cur])
            nxt = np.where(go_left, self.left[cur], self.right[cur])
            flat += np.bincount(rows * nf + f, weights=self.value[nxt] - self.value[cur], minlength=n * nf)
            cur = nxt
        out[:, :nf] = flat.reshape(n, nf)
        return out
