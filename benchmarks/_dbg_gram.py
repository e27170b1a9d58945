import numpy as np, cupy as cp, sys
sys.path.insert(0, '.')
from skmoe._backend import _cupy
from skmoe._model import MixtureModel, Params
from skmoe._tree import GatingTree
from skmoe.experts import GaussianExperts, GaussianParams
rng = np.random.default_rng(0)
n, d, K = 20000, 64, 32
tree = GatingTree((K,)); ex = GaussianExperts(K, 1, alpha=1e-3, var_floor=np.full(1, 1e-6))
model = MixtureModel(tree, ex, gate_alpha=1e-3, gate_solver="bohning")
params = Params(0.5*rng.normal(size=(d+1, K)), GaussianParams(rng.normal(size=(d+1, K)), rng.uniform(.3, 2, (K, 1))))
X = rng.normal(size=(n, d)); Y = X @ rng.normal(size=(d, 1)) + rng.normal(size=(n, 1)); sw = np.ones(n)
cp_, xp = _cupy.namespace()
for dt in ["float64", "float32"]:
    args = (model, cp.asarray(X.astype(dt)), cp.asarray(Y.astype(dt)), cp.asarray(sw), xp)
    ref = _cupy.CupyEngine(*args, cp=cp_, gram="gemm", chunk_rows=1000).statistics(params)
    G0 = np.concatenate([ref.expert_grams, np.pad(ref.node_grams, ((0,0),(0,1),(0,1)))])
    for opts in [{}, dict(async_copy=False), dict(pad=False), dict(cols_per_thread=1), dict(threads=128), dict(flush=64)]:
        for chunk in [1000, 20000]:
            s = _cupy.CupyEngine(*args, cp=cp_, chunk_rows=chunk, **opts).statistics(params)
            G = np.concatenate([s.expert_grams, np.pad(s.node_grams, ((0,0),(0,1),(0,1)))])
            E = np.abs(G - G0)[:, :65, :65] / np.abs(G0).max()
            c, a, b = np.unravel_index(np.argmax(E), E.shape)
            bad = np.argwhere(E > 1e-6 if dt == "float32" else E > 1e-11)
            print(dt, opts, chunk, f"max {E.max():.2e} at col {c} ({a},{b}); n bad {len(bad)}; cols {sorted(set(bad[:,0]))[:10]}; rows {sorted(set(bad[:,1]))[:12]}; cols2 {sorted(set(bad[:,2]))[:12]}", flush=True)
