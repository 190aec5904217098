"""Training data of the shipped Ising model (configs/ising.yaml): 100 000 8x8 lattices, each from its own
chain at its own temperature: ordered, near T_c, hot, and T = 1e6 (uniformly random spins up to a bond
correlation of 2e-6). About 20 s on 2 cores: `python examples/ising_training_data.py`.
"""
import numpy as np
from ednn.data import ising

rng = np.random.default_rng(11)
T = np.concatenate([
    rng.uniform(0.5, 1.0, 10_000),            # deep in the ordered phase
    rng.uniform(1.0, 4.0, 40_000),            # ordered -> T_c = 2.269 -> disordered
    np.exp(rng.uniform(np.log(4.0), np.log(100.0), 30_000)),  # hot
    np.full(20_000, 1e6),                     # uniformly random spins (bond correlation 2e-6)
])
s = ising.sample(8, T.size, temperatures=T, seed=11, progress=False)
print(ising.save("ising8_wide_100k.npz", s, overwrite=True), len(s))  # regenerates its own file
