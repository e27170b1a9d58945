"""CUDA C sources of the GPU statistics pass, generated for one model shape.

Two kernels, compiled by CuPy (NVRTC) on first use and cached on disk:

``moe_estep``
    One thread per row, after the float64 product ``PT = [coef | gate]^T X^T``
    (``(n_cols, n)``, so that every read and write below is coalesced; float32
    ``X`` is exact in float64, so the E-step, and the objective that EM checks
    for monotonicity, carry no float32 rounding). The
    tree is unrolled into straight-line code (its slots, leaves and paths are
    constants), so that the per-row values live in registers. In float64:
    per-node log-softmax of the gate logits, leaf log-joints (Gaussian
    log-density plus the log gates on the leaf's path), their maximum,
    ``exp`` of the differences (zero below ``exp(-230)``), the log-likelihood,
    posteriors, slot and node masses and the gate residuals. Writes the
    weight columns ``WT (n_cols_w, n)`` of the Gram matrices (``w h_l``; then
    ``w h_j`` per node for Böhning, or Newton's ``w h_j g_s (delta_st - g_t)``),
    ``RT = w resid`` ``(n_slots, n)`` and ``LL = w loglik`` (zero where
    ``w = 0``; rows whose every leaf is impossible add ``w * max`` and no
    statistics), exactly as ``skmoe._kernels._fused``.

``moe_gram``
    ``G_c = sum_i WT_ci z_i z_i^T`` for every weight column ``c`` with
    ``z = [x, 1, y]``, without forming ``z * w`` for all columns: ``z`` is cut
    into tiles of 8 entries and each thread owns the 8 x 8 block ``(ta, tb)``,
    ``ta <= tb`` (symmetry: about half of the products), of one or two
    columns (two share the tiles' reads). A block stages ``BK`` rows of ``z``
    (padded so that a quarter-warp's 16-byte reads hit distinct banks) and of
    its columns' weights in shared memory, and every thread accumulates its
    blocks over them in registers. Every thread block owns float64 slots for
    its partial sums (no atomics: the result does not depend on scheduling);
    float32 sums are added to them every ``flush`` rows. The slots of all
    blocks are summed afterwards by a matrix-vector product.
"""

import numpy as np

TINY_LOG = -230.0
GRAM_TILE = 8


def _ctype(dtype):
    return {"float32": "float", "float64": "double"}[np.dtype(dtype).name]


def estep_source(tree, n_outputs, solver, dtype, threads=128):
    """Source of ``moe_estep`` for ``tree``, ``n_outputs`` and ``solver``."""
    T = _ctype(dtype)
    L, C, m = tree.n_leaves, tree.n_slots, n_outputs
    Lm = L * m
    ncol = Lm + C
    ns = tree.node_start
    out = []
    emit = out.append
    emit(f"typedef {T} T;")
    emit(f"""extern "C" __global__ void __launch_bounds__({threads})
moe_estep(const double* __restrict__ PT, const T* __restrict__ Y,
          const double* __restrict__ SW, const double* __restrict__ prm,
          T* __restrict__ WT, T* __restrict__ RT, double* __restrict__ LL,
          const long long n)
{{
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const double NEG_INF = __longlong_as_double(0xfff0000000000000ULL);
  const double w = SW[i];""")
    for s in range(C):
        emit(f"  const double a{s} = (double)PT[{Lm + s}LL * n + i] + prm[{Lm + s}];")
    for s in range(C):
        emit(f"  double lg{s}, g{s};")
    for j in range(tree.n_nodes):
        lo, hi = int(ns[j]), int(ns[j + 1])
        emit("  {")
        emit(f"    double mx = a{lo};")
        for s in range(lo + 1, hi):
            emit(f"    if (a{s} > mx) mx = a{s};")
        for s in range(lo, hi):
            emit(f"    const double e{s} = exp(a{s} - mx);")
        emit("    const double tot = " + " + ".join(f"e{s}" for s in range(lo, hi))
             + ";")
        emit("    const double lt = log(tot), inv = 1.0 / tot;")
        for s in range(lo, hi):
            emit(f"    lg{s} = (a{s} - mx) - lt; g{s} = e{s} * inv;")
        emit("  }")
    # leaf log-joints and their maximum
    emit("  double zm = NEG_INF;")
    for leaf in range(L):
        emit(f"  double z{leaf} = 0.0;")
        for o in range(m):
            c = leaf * m + o
            emit(f"  {{ const double r = (double)Y[i * {m} + {o}] - "
                 f"((double)PT[{c}LL * n + i] + prm[{c}]);"
                 f" z{leaf} += prm[{ncol + c}] - r * r * prm[{ncol + Lm + c}]; }}")
        for t in range(tree.depth):
            emit(f"  z{leaf} += lg{int(tree.leaf_path[leaf, t])};")
        emit(f"  if (z{leaf} > zm) zm = z{leaf};")
    emit("  double tot = 0.0;")
    for leaf in range(L):
        emit(f"  double h{leaf} = 0.0;")
    emit("  if (zm > NEG_INF) {")
    for leaf in range(L):
        emit(f"    {{ const double t = z{leaf} - zm;"
             f" h{leaf} = (t >= {TINY_LOG}) ? exp(t) : 0.0; tot += h{leaf}; }}")
    emit("  }")
    cols = _weight_columns(tree, solver)
    emit("  if (!(tot > 0.0 && w != 0.0)) {")
    emit("    LL[i] = (w != 0.0) ? w * zm : 0.0;")
    emit(f"    for (int c = 0; c < {len(cols)}; ++c) WT[c * n + i] = (T)0;")
    emit(f"    for (int s = 0; s < {C}; ++s) RT[s * n + i] = (T)0;")
    emit("    return;")
    emit("  }")
    emit("  LL[i] = w * (zm + log(tot));")
    emit("  const double inv = 1.0 / tot;")
    for leaf in range(L):
        emit(f"  h{leaf} *= inv;")
    # posterior mass under each slot, then of reaching each node
    under = [[] for _ in range(C)]
    for leaf in range(L):
        for t in range(tree.depth):
            under[int(tree.leaf_path[leaf, t])].append(leaf)
    for s in range(C):
        terms = " + ".join(f"h{leaf}" for leaf in under[s]) or "0.0"
        emit(f"  const double ms{s} = {terms};")
    root = " + ".join(f"ms{s}" for s in range(int(ns[0]), int(ns[1])))
    emit(f"  const double nm0 = {root};")
    for j in range(1, tree.n_nodes):
        emit(f"  const double nm{j} = ms{int(tree.node_parent_slot[j])};")
    for s in range(C):
        j = int(tree.slot_node[s])
        emit(f"  RT[{s}LL * n + i] = (T)(w * (ms{s} - nm{j} * g{s}));")
    for c, expr in enumerate(cols):
        emit(f"  WT[{c}LL * n + i] = (T)({expr});")
    emit("}")
    return "\n".join(out)


def _weight_columns(tree, solver):
    """C expressions of the Gram weight columns, in ``_xp_engine`` order."""
    cols = [f"w * h{leaf}" for leaf in range(tree.n_leaves)]
    if solver == "bohning":
        cols += [f"w * nm{j}" for j in range(tree.n_nodes)]
    else:
        ns = tree.node_start
        for j in range(tree.n_nodes):
            lo, hi = int(ns[j]), int(ns[j + 1])
            for s in range(lo + 1, hi):
                for t in range(s, hi):
                    delta = "1.0" if s == t else "0.0"
                    cols.append(f"(w * nm{j}) * g{s} * ({delta} - g{t})")
    return cols


def gram_shape(q, n_cols, dtype, threads=256, cols_per_thread=None, pad=True,
               async_copy=True, smem_bytes=None):
    """Launch constants of ``moe_gram``.

    Each job is one 8 x 8 tile ``(ta, tb)``, ``ta <= tb``, of the Gram
    matrices of ``cols_per_thread`` consecutive weight columns (float32: 2,
    which halves the shared-memory reads per product; float64: 1). Rows of
    ``z`` are staged with 16 bytes of padding after every 128 bytes of tiles,
    so that the 16-byte reads of the threads of a quarter-warp, which fall on
    different tiles, hit different banks. With ``async_copy`` two stages are
    in shared memory: the next one is copied (``cp.async``) while the current
    one is used.
    """
    size = np.dtype(dtype).itemsize
    if cols_per_thread is None:
        cols_per_thread = 2 if size == 4 else 1
    if smem_bytes is None:
        smem_bytes = 49152 if async_copy else 40960
    n_buf = 2 if async_copy else 1
    tile = GRAM_TILE
    nt = -(-q // tile)
    nts = nt * (nt + 1) // 2
    n_groups = -(-n_cols // cols_per_thread)
    jobs = n_groups * nts
    vec = 16 // size  # elements per 16-byte read
    groups_per_tile = tile * size // 16
    pad_every = 8 // groups_per_tile  # tiles per 128 bytes

    def pad_of(t):
        return vec * (t // pad_every) if pad else 0

    row = tile * nt + pad_of(nt)
    row = -(-row // vec) * vec
    # columns that one block's consecutive jobs can span
    gw = cols_per_thread * (-(-threads // nts) + 1)
    gw = -(-gw // vec) * vec
    bk = 64
    while bk > 8 and n_buf * bk * (row + gw) * size > smem_bytes:
        bk //= 2
    return dict(q=q, nt=nt, nts=nts, jobs=jobs, gw=gw, bk=bk, row=row, n_buf=n_buf,
                vec=vec, threads=threads, cpt=cols_per_thread, n_groups=n_groups,
                n_job_blocks=-(-jobs // threads),
                tile_offsets=[tile * t + pad_of(t) for t in range(nt + 1)])


def gram_source(n_features, n_outputs, n_cols, dtype, threads=256,
                cols_per_thread=None, pad=True, async_copy=True, flush=256,
                unroll=2, min_blocks=1):
    """Source of ``moe_gram`` for ``z = [x, 1, y]`` and ``n_cols`` weights.

    The float64 partial sums of block row ``by`` are laid out as
    ``part[by, e, j, job]`` (``e`` the entry of the 8 x 8 tile, ``j`` the
    column within the job's group), so that a warp's flush is coalesced.
    """
    T = _ctype(dtype)
    d, m = n_features, n_outputs
    q = d + 1 + m
    g = gram_shape(q, n_cols, dtype, threads, cols_per_thread, pad, async_copy)
    f32 = T == "float"
    cpt = g["cpt"]
    size = np.dtype(dtype).itemsize
    vec = "float4" if f32 else "double2"
    per = g["vec"]
    comps = "xyzw"[:per]
    lines = []
    for name, src in (("a", "pa"), ("b", "pb")):
        for v in range(8 // per):
            lines.append(f"        const {vec} {name}{v} = "
                         f"*reinterpret_cast<const {vec}*>({src} + {v * per});")
        vals = ", ".join(f"{name}{v}.{c}" for v in range(8 // per) for c in comps)
        lines.append(f"        const T {name}_[8] = {{{vals}}};")
    loads = "\n".join(lines)
    offsets = ", ".join(str(o) for o in g["tile_offsets"])
    flush_stages = max(1, flush // g["bk"]) if f32 else 1 << 30
    xv = per if d % per == 0 else 1  # elements per copy of a row of X
    return f"""typedef {T} T;
#define D {d}
#define NO {m}
#define Q {q}
#define NT {g['nt']}
#define NTS {g['nts']}
#define MC {n_cols}
#define CPT {cpt}
#define NJOBS {g['jobs']}
#define BK {g['bk']}
#define RS {g['row']}
#define GW {g['gw']}
#define NTHR {threads}
#define NBUF {g['n_buf']}
#define XV {xv}
#define FLUSH_STAGES {flush_stages}

__constant__ int TILE_OFF[NT + 1] = {{{offsets}}};

__device__ __forceinline__ int zpos(int c) {{ return TILE_OFF[c >> 3] + (c & 7); }}

__device__ __forceinline__ void copy_async(T* dst, const T* src, int n_elem)
{{
#if NBUF == 2
  const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
  if (n_elem * {size} == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;"
                 :: "r"(s), "l"(src) : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], {size};"
                 :: "r"(s), "l"(src) : "memory");
#else
  for (int i = 0; i < n_elem; ++i) dst[i] = src[i];
#endif
}}

__device__ __forceinline__ void load_stage(
    T* __restrict__ zb, T* __restrict__ wb, const T* __restrict__ X,
    const T* __restrict__ Y, const T* __restrict__ WT, long long n,
    long long base, int nb, int col0, int tid)
{{
  // rows past nb keep their (finite) old values: their weights are zero
  for (int idx = tid; idx < BK * (D / XV); idx += NTHR) {{
    const int r = idx / (D / XV), c = (idx - r * (D / XV)) * XV;
    if (r < nb) copy_async(zb + r * RS + zpos(c), X + (base + r) * D + c, XV);
  }}
  for (int idx = tid; idx < BK * NO; idx += NTHR) {{
    const int r = idx / NO, o = idx - r * NO;
    if (r < nb) copy_async(zb + r * RS + zpos(D + 1 + o), Y + (base + r) * NO + o, 1);
  }}
  for (int idx = tid; idx < BK * GW; idx += NTHR) {{
    const int c = idx / BK, r = idx - c * BK;
    const int col = col0 + c;
    if (r < nb && col < MC)
      copy_async(wb + r * GW + c, WT + (long long)col * n + base + r, 1);
    else
      wb[r * GW + c] = (T)0;
  }}
#if NBUF == 2
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}}

__device__ __forceinline__ void flush(double* __restrict__ part, long long by,
                                      int job, T (&acc)[CPT][64])
{{
  double* o = part + by * (64LL * CPT * NJOBS) + job;
#pragma unroll
  for (int j = 0; j < CPT; ++j)
#pragma unroll
    for (int e = 0; e < 64; ++e) {{
      o[(e * CPT + j) * NJOBS] += (double)acc[j][e];
      acc[j][e] = (T)0;
    }}
}}

extern "C" __global__ void __launch_bounds__(NTHR, {min_blocks})
moe_gram(const T* __restrict__ X, const T* __restrict__ Y,
         const T* __restrict__ WT, const long long n,
         const long long rows_per_block, double* __restrict__ part)
{{
  __shared__ __align__(16) T zs[NBUF][BK * RS];
  __shared__ __align__(16) T ws[NBUF][BK * GW];
  const int tid = threadIdx.x;
  const int job0 = blockIdx.x * NTHR;
  const int job = job0 + tid;
  const bool active = job < NJOBS;
  const int grp = active ? job / NTS : job0 / NTS;
  int tile = active ? job - grp * NTS : 0;
  int ta = 0;
  while (tile >= NT - ta) {{ tile -= NT - ta; ++ta; }}
  const int tb = ta + tile;
  const int col0 = (job0 / NTS) * CPT;  // first column of the block
  const int lc = grp * CPT - col0;
  const int oa = TILE_OFF[ta], ob = TILE_OFF[tb];
  const long long by = blockIdx.y;
  const long long r0 = by * rows_per_block;
  const long long r1 = min(n, r0 + rows_per_block);
  // zero the stages once (padding columns and unread rows must be finite),
  // then write the constant column
  for (int idx = tid; idx < NBUF * BK * RS; idx += NTHR) (&zs[0][0])[idx] = (T)0;
  __syncthreads();  // the zeros must land before the ones
  for (int r = tid; r < NBUF * BK; r += NTHR)
    zs[r / BK][(r % BK) * RS + zpos(D)] = (T)1;
  __syncthreads();
  T acc[CPT][64];
#pragma unroll
  for (int j = 0; j < CPT; ++j)
#pragma unroll
    for (int e = 0; e < 64; ++e) acc[j][e] = (T)0;
  int stage = 0, buf = 0;
#if NBUF == 2
  if (r0 < r1)
    load_stage(zs[0], ws[0], X, Y, WT, n, r0, (int)min((long long)BK, r1 - r0),
               col0, tid);
#endif
  for (long long base = r0; base < r1; base += BK) {{
#if NBUF == 2
    const long long next = base + BK;
    if (next < r1) {{
      load_stage(zs[buf ^ 1], ws[buf ^ 1], X, Y, WT, n, next,
                 (int)min((long long)BK, r1 - next), col0, tid);
      asm volatile("cp.async.wait_group 1;" ::: "memory");
    }} else {{
      asm volatile("cp.async.wait_group 0;" ::: "memory");
    }}
#else
    load_stage(zs[0], ws[0], X, Y, WT, n, base, (int)min((long long)BK, r1 - base),
               col0, tid);
#endif
    __syncthreads();
    if (active) {{
      const T* zb = zs[buf];
      const T* wb = ws[buf];
#pragma unroll {unroll}
      for (int k = 0; k < BK; ++k) {{
        const T* pa = zb + k * RS + oa;
        const T* pb = zb + k * RS + ob;
{loads}
#pragma unroll
        for (int j = 0; j < CPT; ++j) {{
          const T wv = wb[k * GW + lc + j];
#pragma unroll
          for (int i = 0; i < 8; ++i) {{
            const T wa = a_[i] * wv;
#pragma unroll
            for (int e = 0; e < 8; ++e)
              acc[j][i * 8 + e] = fma(wa, b_[e], acc[j][i * 8 + e]);
          }}
        }}
      }}
#if FLUSH_STAGES < 1000000
      if (++stage == FLUSH_STAGES) {{
        stage = 0;
        flush(part, by, job, acc);
      }}
#endif
    }}
    __syncthreads();
#if NBUF == 2
    buf ^= 1;
#endif
  }}
  if (active) flush(part, by, job, acc);
}}
"""
