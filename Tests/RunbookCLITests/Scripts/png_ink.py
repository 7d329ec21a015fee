# Counts the pixels of a PNG (8-bit RGB/RGBA) that are not near-white, and those near one colour (hex RRGGBB):
# prints "WIDTH HEIGHT INK NEAR". Used by the report test to check what Chromium drew (stdlib only: zlib).
import sys, zlib, struct
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w = 8, b'', 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos+8]); body = data[pos+8:pos+8+n]; pos += 12 + n
    if kind == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
    elif kind == b'IDAT': idat += body
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat); stride = w * bpp; prev = bytearray(stride); rows = []; i = 0
for _ in range(h):
    f = raw[i]; line = bytearray(raw[i+1:i+1+stride]); i += 1 + stride
    for x in range(stride):
        a = line[x-bpp] if x >= bpp else 0; b = prev[x]; c = prev[x-bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
target = tuple(int(sys.argv[2][k:k+2], 16) for k in (0, 2, 4))
ink = near = 0
for line in rows:
    for x in range(0, stride, bpp):
        r, g, b = line[x], line[x+1], line[x+2]
        if r < 240 or g < 240 or b < 240: ink += 1
        if abs(r-target[0]) < 12 and abs(g-target[1]) < 12 and abs(b-target[2]) < 12: near += 1
print(w, h, ink, near)
