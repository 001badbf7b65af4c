#!/usr/bin/env python3
"""Seeds for fuzz_pclntab: the one-function tables of tests/unit/test_gopclntab.c
(made_table), in the Go 1.18 and 1.20 layouts, each with its go:func.*, written as the
harness reads them (an even byte, the go:func.* length, the table, go:func.*).

    pclntab_seeds.py DIR"""
import os
import struct
import sys


def made_table(go120):
    tab = bytearray(0x100)
    struct.pack_into("<I", tab, 0, 0xFFFFFFF1 if go120 else 0xFFFFFFF0)
    tab[6], tab[7] = 1, 8
    struct.pack_into("<8Q", tab, 8, 1, 2, 0x1000, 0x48, 0x68, 0x70, 0x80, 0xA0)
    names = b"\0main.f\0main.inl\0main.inl2\0"
    tab[0x48:0x48 + len(names)] = names
    struct.pack_into("<2I", tab, 0x68, 0, 5)
    tab[0x70:0x7A] = b"a.go\0b.go\0"
    pctab = bytes([0, 2, 0x10, 2, 0x30, 0, 22, 0x20, 20, 0x20, 0, 0, 0x10, 4, 0x20, 1, 0x10, 0])
    tab[0x80:0x80 + len(pctab)] = pctab
    fn = 0xB0
    struct.pack_into("<4I", tab, 0xA0, 0, fn - 0xA0, 0x40, 0)
    struct.pack_into("<I", tab, fn + 4, 1)
    struct.pack_into("<3I", tab, fn + 20, 1, 6, 3)
    tab[fn + (43 if go120 else 39)] = 4
    pcdata = fn + (44 if go120 else 40)
    struct.pack_into("<7I", tab, pcdata, 0, 0, 11, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    size, name_at, parent_at = (16, 4, 8) if go120 else (20, 12, 16)
    gofunc = bytearray(2 * size)
    struct.pack_into("<I", gofunc, name_at, 8)
    struct.pack_into("<I", gofunc, parent_at, 0x05)
    struct.pack_into("<I", gofunc, size + name_at, 17)
    struct.pack_into("<I", gofunc, size + parent_at, 0x30)
    return bytes(tab), bytes(gofunc)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for go120 in (False, True):
        tab, gofunc = made_table(go120)
        seed = bytes([0]) + struct.pack("<I", len(gofunc)) + tab + gofunc
        with open(os.path.join(out, "made-go120" if go120 else "made-go118"), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    main()
