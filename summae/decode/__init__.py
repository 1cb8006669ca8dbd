"""Writing summaries: the decoding rules, greedy decoding and beam search."""
