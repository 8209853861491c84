"""From texts to candidates: profile texts, the encoder, embeddings, the FAISS index and candidate sources."""
