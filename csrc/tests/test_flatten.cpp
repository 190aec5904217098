// ednn::flatten_patch: a patch whose target lengths are reachable ends on them (a square with its
// diagonals, held and free points, periodic minimum images), and the messages of bad arguments.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "ednn/flatten.hpp"

namespace {

double length(const std::vector<double>& xy, int64_t a, int64_t b, const double* box) {
    double dx = xy[2 * b] - xy[2 * a], dy = xy[2 * b + 1] - xy[2 * a + 1];
    dx -= box[0] * std::nearbyint(dx / box[0]);
    dy -= box[1] * std::nearbyint(dy / box[1]);
    return std::sqrt(dx * dx + dy * dy);
}

void square_reaches_its_lengths() {
    // a unit square squeezed to 0.8 x 1.2: edges 1, diagonals sqrt 2 are reachable exactly
    std::vector<double> xy = {0.0, 0.0, 0.8, 0.0, 0.8, 1.2, 0.0, 1.2};
    const std::vector<int64_t> i = {0, 1, 2, 3, 0, 1}, j = {1, 2, 3, 0, 2, 3};
    const std::vector<double> t = {1.0, 1.0, 1.0, 1.0, std::sqrt(2.0), std::sqrt(2.0)};
    const double box[2] = {100.0, 100.0};
    ednn::FlattenSettings s;
    s.iterations = 50;
    s.tol = 1e-10;
    const int kept = ednn::flatten_patch(xy.data(), nullptr, 4, i.data(), j.data(), t.data(), 6, box, s);
    CHECK(kept >= 1);
    for (size_t k = 0; k < i.size(); ++k) CHECK_MSG(std::abs(length(xy, i[k], j[k], box) - t[k]) < 1e-6, std::to_string(k));
    // every point moved: the mean displacement is removed, the centre stays
    double cx = 0.0, cy = 0.0;
    for (int a = 0; a < 4; ++a) cx += xy[2 * a], cy += xy[2 * a + 1];
    CHECK(std::abs(cx / 4 - 0.4) < 1e-9 && std::abs(cy / 4 - 0.6) < 1e-9);
}

void held_points_stay() {
    // points 0 and 1 held 1.0 apart on x; point 2 must reach 1 from both: (0.5, sqrt(0.75))
    std::vector<double> xy = {0.0, 0.0, 1.0, 0.0, 0.3, 0.5};
    const std::vector<int64_t> i = {0, 1}, j = {2, 2};
    const std::vector<double> t = {1.0, 1.0};
    const std::vector<uint8_t> movable = {0, 0, 1};
    const double box[2] = {50.0, 50.0};
    ednn::FlattenSettings s;
    s.iterations = 50;
    s.tol = 1e-10;
    ednn::flatten_patch(xy.data(), movable.data(), 3, i.data(), j.data(), t.data(), 2, box, s);
    CHECK(xy[0] == 0.0 && xy[1] == 0.0 && xy[2] == 1.0 && xy[3] == 0.0);
    CHECK(std::abs(xy[4] - 0.5) < 1e-6 && std::abs(xy[5] - std::sqrt(0.75)) < 1e-6);
}

void periodic_pairs_use_the_minimum_image() {
    // two points across the edge of a 10-long box: 0.4 apart through the boundary, target 0.5
    std::vector<double> xy = {0.2, 1.0, 9.8, 1.0};
    const int64_t i[1] = {0}, j[1] = {1};
    const double t[1] = {0.5}, box[2] = {10.0, 10.0};
    ednn::FlattenSettings s;
    s.iterations = 50;
    s.tol = 1e-10;
    ednn::flatten_patch(xy.data(), nullptr, 2, i, j, t, 1, box, s);
    CHECK(std::abs(length(xy, 0, 1, box) - 0.5) < 1e-6);
    CHECK(xy[0] > 0.2 && xy[2] < 9.8);  // pushed apart through the boundary, not across the box
}

void bad_arguments_are_named() {
    std::vector<double> xy = {0.0, 0.0, 1.0, 0.0};
    const int64_t i[1] = {0}, j[1] = {1}, jj[1] = {2}, ii[1] = {1};
    const double t[1] = {1.0}, bad_t[1] = {-1.0}, box[2] = {10.0, 10.0}, bad_box[2] = {10.0, 0.0};
    ednn::FlattenSettings s;
    CHECK_THROWS(ednn::flatten_patch(xy.data(), nullptr, 2, i, jj, t, 1, box, s), std::invalid_argument,
                 "pairs: expected two different points in [0, 2), got (0, 2) at pair 0");
    CHECK_THROWS(ednn::flatten_patch(xy.data(), nullptr, 2, ii, ii, t, 1, box, s), std::invalid_argument,
                 "pairs: expected two different points");
    CHECK_THROWS(ednn::flatten_patch(xy.data(), nullptr, 2, i, j, bad_t, 1, box, s), std::invalid_argument,
                 "target: expected positive finite lengths, got -1 at pair 0");
    CHECK_THROWS(ednn::flatten_patch(xy.data(), nullptr, 2, i, j, t, 1, bad_box, s), std::invalid_argument,
                 "box: expected two positive finite lengths, got 0 on axis 1");
    s.iterations = 0;
    CHECK_THROWS(ednn::flatten_patch(xy.data(), nullptr, 2, i, j, t, 1, box, s), std::invalid_argument,
                 "iterations: expected a positive int, got 0");
    s.iterations = 12;
    s.tol = 0.0;
    CHECK_THROWS(ednn::flatten_patch(xy.data(), nullptr, 2, i, j, t, 1, box, s), std::invalid_argument,
                 "tol: expected a number in [1e-12, 1), got 0");
    s.tol = 1e-4;
    xy[3] = std::nan("");
    CHECK_THROWS(ednn::flatten_patch(xy.data(), nullptr, 2, i, j, t, 1, box, s), std::invalid_argument,
                 "xy: expected finite positions, got nan at point 1");
    // nothing to fit: unchanged
    std::vector<double> one = {3.0, 4.0};
    CHECK(ednn::flatten_patch(one.data(), nullptr, 1, i, j, t, 0, box, s) == 0 && one[0] == 3.0 && one[1] == 4.0);
}

}  // namespace

int main() {
    square_reaches_its_lengths();
    held_points_stay();
    periodic_pairs_use_the_minimum_image();
    bad_arguments_are_named();
    return ednn_test::finish("test_flatten");
}
