// Levenberg-Marquardt flattening of one patch (ednn/flatten.hpp), matrix-free CG on the normal
// equations. Mirrors ednn.reference.flatten_patch step for step.
#include "ednn/flatten.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace ednn {

namespace {

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

struct Pairs {
    const int64_t* i;
    const int64_t* j;
    int64_t m;
};

// r_k = minimum image of p_j - p_i, len_k = |r_k|, res_k = len_k - target_k; returns sum res^2
double misfit(const std::vector<double>& p, const Pairs& pr, const double* target, const double* box,
              std::vector<double>& r, std::vector<double>& res) {
    double f = 0.0;
    for (int64_t k = 0; k < pr.m; ++k) {
        const int64_t a = pr.i[k], b = pr.j[k];
        double dx = p[2 * b] - p[2 * a], dy = p[2 * b + 1] - p[2 * a + 1];
        dx -= box[0] * std::nearbyint(dx / box[0]);
        dy -= box[1] * std::nearbyint(dy / box[1]);
        r[2 * k] = dx;
        r[2 * k + 1] = dy;
        const double rk = std::sqrt(dx * dx + dy * dy) - target[k];
        res[k] = rk;
        f += rk * rk;
    }
    return f;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0.0;
    for (size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
    return s;
}

// (A u)_k = e_k . (u_j - u_i)
void a_mul(const Pairs& pr, const std::vector<double>& e, const std::vector<double>& u, std::vector<double>& out) {
    for (int64_t k = 0; k < pr.m; ++k) {
        const int64_t a = pr.i[k], b = pr.j[k];
        out[k] = e[2 * k] * (u[2 * b] - u[2 * a]) + e[2 * k + 1] * (u[2 * b + 1] - u[2 * a + 1]);
    }
}

// A^T r, zero at held points
void at_mul(const Pairs& pr, const std::vector<double>& e, const std::vector<double>& r, const uint8_t* movable,
            int64_t n, std::vector<double>& out) {
    std::fill(out.begin(), out.end(), 0.0);
    for (int64_t k = 0; k < pr.m; ++k) {
        const int64_t a = pr.i[k], b = pr.j[k];
        const double wx = r[k] * e[2 * k], wy = r[k] * e[2 * k + 1];
        out[2 * b] += wx;
        out[2 * b + 1] += wy;
        out[2 * a] -= wx;
        out[2 * a + 1] -= wy;
    }
    if (movable)
        for (int64_t a = 0; a < n; ++a)
            if (!movable[a]) out[2 * a] = out[2 * a + 1] = 0.0;
}

// min |A u - b|^2 + damping |u|^2 from u = 0
std::vector<double> cgls(const Pairs& pr, const std::vector<double>& e, const std::vector<double>& b,
                         const uint8_t* movable, int64_t n, double damping, double tol, int64_t max_iter) {
    const size_t n2 = static_cast<size_t>(2 * n);
    std::vector<double> u(n2, 0.0), u_new(n2), r(b), s(n2), p, q(static_cast<size_t>(pr.m));
    at_mul(pr, e, r, movable, n, s);
    p = s;
    double gamma = dot(s, s);
    const double gamma0 = gamma, stop = tol * tol * gamma;
    for (int64_t it = 0; it < max_iter; ++it) {
        if (gamma <= stop || gamma == 0.0) break;
        a_mul(pr, e, p, q);
        const double delta = dot(q, q) + damping * dot(p, p);
        if (!(delta > 0.0 && delta < std::numeric_limits<double>::infinity())) break;
        const double alpha = gamma / delta;
        for (size_t k = 0; k < n2; ++k) u_new[k] = u[k] + alpha * p[k];
        for (int64_t k = 0; k < pr.m; ++k) r[k] -= alpha * q[k];
        at_mul(pr, e, r, movable, n, s);
        for (size_t k = 0; k < n2; ++k) s[k] -= damping * u_new[k];
        const double g_new = dot(s, s);
        if (!(g_new < 1e8 * gamma0)) break;  // rounding has taken over
        u.swap(u_new);
        const double beta = g_new / gamma;
        for (size_t k = 0; k < n2; ++k) p[k] = s[k] + beta * p[k];
        gamma = g_new;
    }
    return u;
}

}  // namespace

void validate(const FlattenSettings& s, const double* box) {
    if (s.iterations < 1) throw std::invalid_argument("iterations: expected a positive int, got " + std::to_string(s.iterations));
    if (!(s.tol >= 1e-12 && s.tol < 1.0)) throw std::invalid_argument("tol: expected a number in [1e-12, 1), got " + num(s.tol));
    if (!(s.damping_min > 0.0 && std::isfinite(s.damping_min)))
        throw std::invalid_argument("damping_min: expected a positive finite number, got " + num(s.damping_min));
    if (!(s.max_step > 0.0 && std::isfinite(s.max_step)))
        throw std::invalid_argument("max_step: expected a positive finite number, got " + num(s.max_step));
    for (int k = 0; k < 2; ++k)
        if (!(box[k] > 0.0 && std::isfinite(box[k])))
            throw std::invalid_argument("box: expected two positive finite lengths, got " + num(box[k]) + " on axis " +
                                        std::to_string(k));
}

int flatten_patch(double* xy, const uint8_t* movable, int64_t n, const int64_t* pi, const int64_t* pj,
                  const double* target, int64_t m, const double* box, const FlattenSettings& settings) {
    validate(settings, box);
    if (n < 0 || m < 0) throw std::invalid_argument("n, m: expected counts >= 0, got " + std::to_string(n) + ", " + std::to_string(m));
    for (int64_t a = 0; a < 2 * n; ++a)
        if (!std::isfinite(xy[a])) throw std::invalid_argument("xy: expected finite positions, got " + num(xy[a]) + " at point " + std::to_string(a / 2));
    for (int64_t k = 0; k < m; ++k) {
        if (pi[k] < 0 || pi[k] >= n || pj[k] < 0 || pj[k] >= n || pi[k] == pj[k])
            throw std::invalid_argument("pairs: expected two different points in [0, " + std::to_string(n) + "), got (" +
                                        std::to_string(pi[k]) + ", " + std::to_string(pj[k]) + ") at pair " + std::to_string(k));
        if (!(target[k] > 0.0 && std::isfinite(target[k])))
            throw std::invalid_argument("target: expected positive finite lengths, got " + num(target[k]) + " at pair " + std::to_string(k));
    }
    if (n == 0 || m == 0) return 0;
    const Pairs pr{pi, pj, m};
    const int64_t max_iter = 4 * n + 200;
    const size_t n2 = static_cast<size_t>(2 * n), m1 = static_cast<size_t>(m);
    std::vector<double> p(xy, xy + n2), r(2 * m1), res(m1), r_new(2 * m1), res_new(m1), e(2 * m1), b(m1), trial(n2);
    double f = misfit(p, pr, target, box, r, res);
    double damping = settings.damping_min;
    int kept = 0;
    for (int it = 0; it < settings.iterations; ++it) {
        for (int64_t k = 0; k < m; ++k) {
            const double len = std::max(res[k] + target[k], 1e-12);
            e[2 * k] = r[2 * k] / len;
            e[2 * k + 1] = r[2 * k + 1] / len;
            b[k] = -res[k];
        }
        std::vector<double> u = cgls(pr, e, b, movable, n, damping, settings.tol, max_iter);
        if (!movable) {
            double mx = 0.0, my = 0.0;
            for (int64_t a = 0; a < n; ++a) mx += u[2 * a], my += u[2 * a + 1];
            mx /= static_cast<double>(n);
            my /= static_cast<double>(n);
            for (int64_t a = 0; a < n; ++a) u[2 * a] -= mx, u[2 * a + 1] -= my;
        }
        double step = 0.0;
        for (double v : u) step = std::max(step, std::abs(v));
        if (step > settings.max_step)
            for (double& v : u) v *= settings.max_step / step;
        for (size_t k = 0; k < n2; ++k) trial[k] = p[k] + u[k];
        const double f_new = misfit(trial, pr, target, box, r_new, res_new);
        if (f_new < f) {
            p.swap(trial);
            const double gain = f - f_new;
            f = f_new;
            r.swap(r_new);
            res.swap(res_new);
            damping = std::max(settings.damping_min, damping / 10.0);
            ++kept;
            if (step < 1e-4 || gain < 1e-9 * f) break;
        } else {
            damping *= 10.0;
        }
    }
    std::copy(p.begin(), p.end(), xy);
    return kept;
}

}  // namespace ednn
