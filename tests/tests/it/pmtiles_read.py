"""Reads a PMTiles archive with the independent `pmtiles` package (PyPI) and prints, as JSON,
its header, its metadata and every tile (z, x, y and the stored bytes in hex), for
tests/tests/it/export.rs. Usage: pmtiles_read.py ARCHIVE"""
import json
import sys

from pmtiles.reader import MmapSource, Reader, all_tiles

with open(sys.argv[1], "rb") as f:
    source = MmapSource(f)
    reader = Reader(source)
    header = {
        k: (v.name if hasattr(v, "name") else v) for k, v in reader.header().items()
    }
    tiles = [[z, x, y, data.hex()] for (z, x, y), data in all_tiles(source)]
    # Random access too, not only the directory walk (a sample of big archives).
    stride = max(1, len(tiles) // 1000)
    for z, x, y, data in tiles[::stride]:
        if reader.get(z, x, y).hex() != data:
            sys.exit(f"get({z}, {x}, {y}) differs from the walk")
    print(json.dumps({"header": header, "metadata": reader.metadata(), "tiles": tiles}))
