# Marks a symbol version requirement (vna_flags |= VER_FLG_WEAK) in an ELF64 file: a missing
# weak version is a warning for the loader, not an error. Used by run.sh on libstdc++ (see there).
import struct, sys
path, target = sys.argv[1], sys.argv[2].encode()
data = bytearray(open(path,'rb').read())
# ELF64 little endian
e_shoff, = struct.unpack_from('<Q', data, 0x28)
e_shentsize, e_shnum, e_shstrndx = struct.unpack_from('<HHH', data, 0x3A)
secs = []
for i in range(e_shnum):
    o = e_shoff + i*e_shentsize
    name, typ, flags, addr, off, size, link, info, align, entsize = struct.unpack_from('<IIQQQQIIQQ', data, o)
    secs.append((name, typ, off, size, link, info))
SHT_GNU_verneed = 0x6ffffffe
done = 0
for (name, typ, off, size, link, info) in secs:
    if typ != SHT_GNU_verneed: continue
    stroff = secs[link][2]
    o = off
    for _ in range(info):
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from('<HHIII', data, o)
        a = o + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from('<IHHII', data, a)
            s = data[stroff+vna_name: data.index(b'\0', stroff+vna_name)]
            if s == target:
                struct.pack_into('<H', data, a+4, vna_flags | 2)
                done += 1
            a += vna_next
        o += vn_next
        if vn_next == 0: break
open(path,'wb').write(data)
print('patched', done)
