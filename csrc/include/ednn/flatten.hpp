// Least-squares flattening of a sheet's in-plane positions (the solve behind ednn.atoms.bonds.flatten
// and the windows of ednn.atoms.localflat).
//
// Given n points p_a (x, y) and m pairs (i_k, j_k) with target lengths d_k (their 3-D distances),
// minimise F = sum_k (|r_k| - d_k)^2 over the movable points, r_k = p_j - p_i taken as the minimum
// image in a periodic box (L_x, L_y), by Levenberg-Marquardt: each step solves the damped linear
// least-squares problem min |J u + res|^2 + lambda |u|^2 by conjugate gradients on the normal
// equations (matrix-free), and is kept only if it lowers F (lambda then shrinks tenfold, to at
// least damping_min; else it grows tenfold). A step never moves a point by more than max_step (a
// trust region). With every point movable the mean of each step is removed (the rigid translation);
// held points (movable[a] = 0) fix it instead. Stops after `iterations` steps, or once a kept step
// moves no point by 1e-4 or lowers F by less than 1e-9 of it. CG stops at relative residual `tol`,
// after 4 n + 200 steps, or when rounding takes over.
//
// CPU only, one thread per call (calls on separate patches may run on separate threads); float64
// throughout, so the result is the NumPy oracle's (ednn.reference.flatten_patch) to rounding.
#pragma once

#include <cstdint>

namespace ednn {

struct FlattenSettings {
    int iterations = 12;       // Levenberg-Marquardt steps at most, >= 1
    double tol = 1e-4;         // CG relative tolerance, in [1e-12, 1)
    double damping_min = 1e-3; // smallest damping lambda (units of the normal matrix), > 0
    double max_step = 1.0;     // largest move of one point per step, > 0
};

/// Throws std::invalid_argument naming the bad value (iterations < 1, tol outside [1e-12, 1),
/// non-positive or non-finite damping_min, max_step or box lengths).
void validate(const FlattenSettings& settings, const double* box);

/// Moves `xy` in place; returns the number of Levenberg-Marquardt steps kept.
///
///   xy      : [n, 2] float64, row-major, the starting positions (overwritten by the result)
///   movable : [n] uint8, 1 = the point moves, 0 = held; nullptr = every point moves
///   pi, pj  : [m] int64, the pairs (each in [0, n), i != j)
///   target  : [m] float64, the target lengths (finite, > 0)
///   box     : [2] float64, periodic lengths for the minimum image (larger than twice any pair)
///
/// Every argument is checked before anything is written.
int flatten_patch(double* xy, const uint8_t* movable, int64_t n, const int64_t* pi, const int64_t* pj,
                  const double* target, int64_t m, const double* box, const FlattenSettings& settings);

}  // namespace ednn
