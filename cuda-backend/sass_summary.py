#!/usr/bin/env python3
"""Summarizes `cuobjdump -sass` output of grad4j_kernels.fatbin, one line per kernel and architecture.

The machine code is what the GPU runs; ptxas -v only reports registers and spills. This summary
records, for every kernel, the instruction mix that decides its speed and its agreement with the
cpu backend, so that a review (and SassReportTest) can check a kernel design without a GPU:

  instructions    SASS instructions (NOPs excluded)
  fma32 / fma64   FFMA / DFMA: axpby must have none (it rounds alpha*x and beta*y separately, as
                  the cpu does); the GEMMs are mostly these
  mma             HMMA/HGMMA (tensor-core) instructions
  ldg / ldg128    global loads, and those 16 bytes wide (the memory-bound kernels' vector path)
  stg / stg128    global stores, likewise
  generic         LD/ST through a generic address (the compiler could not prove global or shared)
  lds / lds128    shared-memory loads, and those 16 bytes wide
  local           LDL/STL: local memory (spills, or arrays indexed at run time)

and for kernels with loops that hold at least MIN_LOOP_FMA fused multiply-adds (the GEMMs' k
loops), the innermost such loops:

  main_loops            how many (one per compiled layout)
  loop_fma_min          the fewest FMAs (FFMA, DFMA or HMMA) in one of them
  loop_fma_share_min    the lowest share of FMAs among a loop's instructions, in percent
                        (static count: slow paths inside the loop body are counted too)
  loop_lds_scalar_max   the most shared loads narrower than 16 bytes in one of them

Usage: sass_summary.py SASS_FILE FATBIN_SHA256 TOOL_DESCRIPTION > sass-report.txt
"""
import re
import sys
from collections import defaultdict

MIN_LOOP_FMA = 64
INSTRUCTION = re.compile(r"^\s+/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
PREDICATE = re.compile(r"^@!?U?P[T0-9]+\s+")


def parse(lines):
    """{(arch, kernel): [(address, opcode, text)]} in program order."""
    kernels = {}
    arch = None
    current = None
    for line in lines:
        m = re.match(r"\s*(?:arch =|code for) (sm_\d+)", line)
        if m:
            arch = m.group(1)
            continue
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            current = kernels.setdefault((arch, m.group(1)), [])
            continue
        m = INSTRUCTION.match(line)
        if m and current is not None:
            text = PREDICATE.sub("", m.group(2))
            opcode = text.split()[0]
            current.append((int(m.group(1), 16), opcode, text))
    return kernels


def counts(instructions):
    c = defaultdict(int)
    for _, opcode, _ in instructions:
        base = opcode.split(".")[0]
        if base == "NOP":
            continue
        c["instructions"] += 1
        wide = ".128" in opcode
        if base == "FFMA":
            c["fma32"] += 1
        elif base == "DFMA":
            c["fma64"] += 1
        elif base in ("HMMA", "HGMMA"):  # warp-level and Hopper warpgroup tensor-core MMAs
            c["mma"] += 1
        elif base == "LDG":
            c["ldg"] += 1
            c["ldg128"] += wide
        elif base == "STG":
            c["stg"] += 1
            c["stg128"] += wide
        elif base in ("LD", "ST"):
            c["generic"] += 1
        elif base == "LDS":
            c["lds"] += 1
            c["lds128"] += wide
        elif base in ("LDL", "STL"):
            c["local"] += 1
    return c


def loops(instructions):
    """(start, end) index ranges of backward branches: the body runs from the target to the branch."""
    index_of = {address: i for i, (address, _, _) in enumerate(instructions)}
    found = []
    for i, (address, opcode, text) in enumerate(instructions):
        if opcode.split(".")[0] != "BRA":
            continue
        targets = re.findall(r"0x([0-9a-f]+)", text)
        if not targets:  # an indirect branch (through a register): no loop to find
            continue
        target = int(targets[-1], 16)
        if target <= address and target in index_of:
            found.append((index_of[target], i))
    return found


def main_loops(instructions):
    heavy = []
    for start, end in loops(instructions):
        c = counts(instructions[start:end + 1])
        fma = c["fma32"] + c["fma64"] + c["mma"]
        if fma >= MIN_LOOP_FMA:
            heavy.append((start, end, c, fma))
    # innermost: no other heavy loop strictly inside
    return [h for h in heavy
            if not any(o is not h and h[0] <= o[0] and o[1] <= h[1] and (o[0], o[1]) != (h[0], h[1]) for o in heavy)]


FIELDS = ["instructions", "fma32", "fma64", "mma", "ldg", "ldg128", "stg", "stg128", "generic", "lds", "lds128", "local"]


def main():
    sass_file, fatbin_sha, tool = sys.argv[1:4]
    with open(sass_file) as f:
        kernels = parse(f)
    if not kernels:
        sys.exit("sass_summary: no kernels found in " + sass_file)
    print("# SASS summary of grad4j_kernels.fatbin (cuda-backend/sass_summary.py; fields explained there)")
    print("# disassembler: " + tool)
    print("# fatbin sha256 " + fatbin_sha)
    for (arch, name) in sorted(kernels):
        instructions = kernels[(arch, name)]
        c = counts(instructions)
        fields = [f"{k}={c[k]}" for k in FIELDS]
        heavy = main_loops(instructions)
        if heavy:
            fields.append(f"main_loops={len(heavy)}")
            fields.append(f"loop_fma_min={min(h[3] for h in heavy)}")
            fields.append(f"loop_fma_share_min={min(100 * h[3] // h[2]['instructions'] for h in heavy)}")
            fields.append(f"loop_lds_scalar_max={max(h[2]['lds'] - h[2]['lds128'] for h in heavy)}")
        print(f"{arch} {name} " + " ".join(fields))


if __name__ == "__main__":
    main()
