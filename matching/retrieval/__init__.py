"""From texts to candidates: profile texts, the encoder (and its fine-tuning loop), embeddings, the
FAISS index with its id map, and candidate sources."""
