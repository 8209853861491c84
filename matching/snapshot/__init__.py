"""The market as columns: the snapshot every matching step reads, and the market as of a past moment."""
