"""The engine's I/O: one filesystem layer over URIs, readers, writers and the part sink."""
