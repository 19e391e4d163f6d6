"""Rebuild the shipped noise corpus (`hf_rmt/data/austen_*.txt.xz`) from the Debian package `r-cran-janeaustenr`.

This is a maintainer script, not imported by the library. The six Jane Austen novels (public domain) are stored in
the package as an R lazy-load database; it is decoded here with the standard library only, so neither R nor a
download at run time is needed:

```bash
apt-get update && apt-get download r-cran-janeaustenr  # r-cran-janeaustenr_1.0.0-1_all.deb
python scripts/build_corpus.py r-cran-janeaustenr_1.0.0-1_all.deb hf_rmt/data
```

Output: one xz file per novel, UTF-8 plain text, one paragraph per line. Front matter (title, author, dates), chapter
and volume headings, all-caps lines, footnotes and a modern editor's note (Northanger Abbey) are dropped; `_italics_` markers are removed and white space is collapsed.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import os
import re
import struct
import subprocess
import tempfile
import zlib


# SHA-256 of each decoded novel (lines joined with "\n"), to pin the source text.
BOOK_SHA256 = {
    "emma": "dd08b340a56ad4a0a00718d5682528a5a5886ae0aef91c9e0fa528074fa64b75",
    "mansfieldpark": "e0e9ef3863ea77f51f6070062ee0dd50ad9b933223880617629e4e4963ea40ff",
    "northangerabbey": "8618a5acf5be50cc6e9b7680c7469fb6012649ab08c709dfc63c6367989fd31d",
    "persuasion": "726513a6c18bb678427bcbcf7c72d0d20816a67c25b0471b26ddcabf3ebac140",
    "prideprejudice": "2e44edaa4946d64ad541c68e0224f5d672f43bf3ce2a8a0b0637ad5e02fc6eb3",
    "sensesensibility": "0996d90842bbe8093f3b8142c1e77d1b20cff52d1d0615f3ed67733653e74e26",
}
_RDATA = "usr/lib/R/site-library/janeaustenr/data/Rdata"
_HEADING = re.compile(r"^(chapter|volume)\s+([0-9]+|[ivxlc]+)\.?$", re.IGNORECASE)
# Northanger Abbey ends with a modern editor's note; nothing after this heading is Austen's text.
_END_MATTER = "A NOTE ON THE TEXT"


def _read_character_vector(record: bytes) -> list[str | None]:
    """Decode one R XDR serialization holding a character vector (STRSXP)."""
    if record[:2] != b"X\n":
        raise ValueError("not an R XDR serialization")
    version = struct.unpack(">i", record[2:6])[0]
    pos = 14
    if version == 3:  # version 3 adds the native encoding name
        pos += 4 + struct.unpack(">i", record[pos : pos + 4])[0]
    sexp_type, count = struct.unpack(">ii", record[pos : pos + 8])
    if sexp_type & 0xFF != 16:
        raise ValueError(f"expected a character vector (STRSXP, 16), got type {sexp_type & 0xFF}")
    pos += 8
    out: list[str | None] = []
    for _ in range(count):
        _, length = struct.unpack(">ii", record[pos : pos + 8])
        pos += 8
        if length == -1:
            out.append(None)
            continue
        out.append(record[pos : pos + length].decode("utf-8"))
        pos += length
    return out


def decode_rdata(rdb: bytes) -> dict[str, list[str]]:
    """Decode `Rdata.rdb`: zlib records (4-byte big-endian size + stream), in the alphabetical order of `BOOK_SHA256`."""
    books, pos = {}, 0
    for name in sorted(BOOK_SHA256):
        size = struct.unpack(">I", rdb[pos : pos + 4])[0]
        stream = zlib.decompressobj()
        record = stream.decompress(rdb[pos + 4 :])
        if len(record) != size:
            raise ValueError(f"record {name}: expected {size} bytes, got {len(record)}")
        pos = len(rdb) - len(stream.unused_data)
        lines = [line or "" for line in _read_character_vector(record)]
        digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
        if digest != BOOK_SHA256[name]:
            raise ValueError(f"{name}: SHA-256 {digest} does not match the pinned {BOOK_SHA256[name]}")
        books[name] = lines
    return books


def clean_book(lines: list[str]) -> list[str]:
    """Turn a novel's raw lines into cleaned paragraphs, starting at its first chapter heading."""
    paragraphs, current = [], []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    first_chapter = next(i for i, p in enumerate(paragraphs) if _HEADING.match(p))
    cleaned = []
    for paragraph in paragraphs[first_chapter:]:
        if paragraph == _END_MATTER:
            break
        if paragraph.startswith("*"):  # footnotes
            continue
        paragraph = re.sub(r"\s+", " ", paragraph.replace("_", "")).strip()
        if _HEADING.match(paragraph) or not re.search("[a-z]", paragraph) or len(paragraph.split()) < 2:
            continue
        cleaned.append(paragraph)
    return cleaned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deb", help="path to r-cran-janeaustenr_*.deb")
    parser.add_argument("out_dir", help="folder to write austen_<book>.txt.xz into (hf_rmt/data)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", args.deb, tmp], check=True)
        with open(os.path.join(tmp, _RDATA + ".rdb"), "rb") as f:
            books = decode_rdata(f.read())
    for name, lines in books.items():
        text = "\n".join(clean_book(lines)) + "\n"
        with lzma.open(os.path.join(args.out_dir, f"austen_{name}.txt.xz"), "wt", encoding="utf-8", preset=9) as f:
            f.write(text)


if __name__ == "__main__":
    main()
