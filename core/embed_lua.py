#!/usr/bin/env python3
# embed_lua.py — turn a Lua file into a C source that holds its bytes, so the
# binary carries the `trainbench` module (trainbench.lua) and needs no file
# at run time. Run by meson (core/meson.build) at build time.
#
# usage: embed_lua.py INPUT.lua OUTPUT.c NAME
# writes: const char NAME[] (the bytes and a NUL) and const size_t NAME_len.
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit('usage: embed_lua.py INPUT.lua OUTPUT.c NAME')
    src, dst, name = sys.argv[1:]
    data = open(src, 'rb').read()
    if b'\0' in data:
        sys.exit(f'{src}: a NUL byte would cut the module short')
    rows = []
    for i in range(0, len(data), 16):
        rows.append('  ' + ' '.join(f'0x{b:02x},' for b in data[i:i + 16]))
    with open(dst, 'w') as f:
        f.write(f'/* Generated from {src.split("/")[-1]} by embed_lua.py: do not edit. */\n')
        f.write('#include <stddef.h>\n\n')
        f.write(f'extern const char {name}[];\n')
        f.write(f'extern const size_t {name}_len;\n\n')
        f.write(f'const char {name}[] = {{\n')
        f.write('\n'.join(rows))
        f.write('\n  0x00,\n};\n')
        f.write(f'const size_t {name}_len = {len(data)};\n')


main()
