"""The auto-encoder: compressor + reconstructor, the bottleneck, the copy head, the discriminator, the losses."""
