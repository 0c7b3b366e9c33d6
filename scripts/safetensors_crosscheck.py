"""Manual cross-check of grad4j safetensors files against an independent reader (numpy + json).

usage: python3 safetensors_crosscheck.py FILE_WRITTEN_BY_GRAD4J FILE_TO_WRITE_FOR_GRAD4J
Reads the first file per the safetensors spec and prints metadata, tensors and raw bits; writes the
second the way the reference library lays a file out (names sorted, compact JSON, space padding).
See docs/checkpoints.md. With the `safetensors` package installed, safetensors.numpy.load_file(FILE)
is the stronger check."""
import json, struct, sys, numpy as np
def read(p):
    b = open(p,'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8+n].decode('utf-8'))
    assert (8+n) % 8 == 0
    meta = h.pop('__metadata__', {})
    data = b[8+n:]
    out = {}
    for k, v in h.items():
        s, e = v['data_offsets']
        dt = {'F32':'<f4','F64':'<f8'}[v['dtype']]
        out[k] = np.frombuffer(data[s:e], dtype=dt).reshape(v['shape'])
    return meta, out
meta, t = read(sys.argv[1])
print(meta)
for k, v in t.items(): print(k, v.dtype, v.shape, v.tolist(), [hex(x) for x in v.view(np.uint32 if v.dtype==np.float32 else np.uint64).ravel().tolist()])
# write one the way the reference library lays it out (sorted, compact JSON, space padding)
tensors = {'b.bias': np.array([0.5, -1.5], dtype='<f4'), 'a.weight': np.arange(6, dtype='<f8').reshape(2,3), 'z': np.array(2.0, dtype='<f4')}
hdr = {'__metadata__': {'format': 'pt'}}; off = 0; body = b''
for k in sorted(tensors):
    v = tensors[k]; raw = v.tobytes(); hdr[k] = {'dtype': 'F32' if v.dtype==np.float32 else 'F64', 'shape': list(v.shape), 'data_offsets': [off, off+len(raw)]}; off += len(raw); body += raw
hj = json.dumps(hdr, separators=(',', ':')).encode(); hj += b' ' * ((8 - len(hj) % 8) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hj)) + hj + body)
