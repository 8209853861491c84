"""Lists as served: the matcher over one market, need-less markets and S-fund secondaries."""
