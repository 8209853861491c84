"""The market's vocabulary and the pure validation every edge (CLI, import, API) shares."""
