"""llm.c's checkpoint format, read with numpy alone: the one reader the Python
scripts share (scripts/hf/oracle.py, scripts/torch_anchor.py). The C++ reader is
reference/checkpoint.cpp; both follow llm.c's train_gpt2.c."""
import sys

import numpy as np

MAGIC = 20240326


def load_llmc(path):
    """(config dict, 16 float32 arrays in llm.c's order: wte, wpe, ln1w, ln1b, qkvw,
    qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb)."""
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(1024), dtype="<i4")
        if header[0] != MAGIC:
            sys.exit(f"{path}: bad magic {header[0]} (expected {MAGIC}): not an llm.c checkpoint")
        version = int(header[1])
        maxT, V, L, NH, C = (int(x) for x in header[2:7])
        Vp = V if version == 1 else int(header[7])
        raw = f.read()
    if version in (1, 3):
        data = np.frombuffer(raw, dtype="<f4")
    elif version == 5:
        data = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        sys.exit(f"{path}: unknown version {version} (1 and 3: float32, 5: bfloat16)")
    shapes = [(Vp, C), (maxT, C), (L, C), (L, C), (L, 3 * C, C), (L, 3 * C), (L, C, C), (L, C),
              (L, C), (L, C), (L, 4 * C, C), (L, 4 * C), (L, C, 4 * C), (L, C), (C,), (C,)]
    tensors, offset = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        tensors.append(data[offset:offset + n].reshape(shape))
        offset += n
    if offset != data.size:
        sys.exit(f"{path}: {data.size} values, the header says {offset}")
    return dict(maxT=maxT, V=V, Vp=Vp, L=L, NH=NH, C=C, version=version), tensors
