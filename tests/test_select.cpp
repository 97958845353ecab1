// argmax, argmin, min and topk: PyTorch's topk values and positions, NaN and ties, gradients.
#include "support/check.hpp"
#include "support/golden.hpp"
#include "tapeloop/ops/reduce.hpp"
#include "tapeloop/ops/select.hpp"

#include <limits>

using namespace tapeloop;
using tapeloop::testing::check_float_matches_double;
using tapeloop::testing::random_tensor;

BOOST_AUTO_TEST_SUITE(test_select)

BOOST_AUTO_TEST_CASE(topk_matches_pytorch) {
  for (const auto& [name, g] : testing::ops_golden()["topk"].items()) {
    BOOST_TEST_CONTEXT(name) {
      const std::vector<std::int64_t> dims = testing::golden_ints(g["shape"]);
      const Tensor<double> x =
          testing::golden_tensor<double>(g["x"], Shape(dims.data(), static_cast<int>(dims.size())));
      Tape<double> tape;
      Var<double> in = tape.input(x.ref(), true);
      const TopK<double> top =
          topk(in, g["k"].get<std::int64_t>(), g["axis"].get<int>(), g["largest"].get<bool>());
      const std::vector<std::int64_t> out = testing::golden_ints(g["values_shape"]);
      BOOST_TEST(top.values.shape() == Shape(out.data(), static_cast<int>(out.size())));
      BOOST_TEST(top.indices.shape == top.values.shape());
      BOOST_TEST(top.indices.values == testing::golden_ints(g["indices"]),
                 boost::test_tools::per_element());
      testing::check_close(name, top.values.value().data, g["values"], 0.0, 0.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(min_argmax_argmin_match_pytorch) {
  for (const auto& [name, g] : testing::ops_golden()["extremum"].items()) {
    BOOST_TEST_CONTEXT(name) {
      const std::vector<std::int64_t> dims = testing::golden_ints(g["shape"]);
      const Tensor<double> x =
          testing::golden_tensor<double>(g["x"], Shape(dims.data(), static_cast<int>(dims.size())));
      const int axis = g["axis"].get<int>();
      Tape<double> tape;
      Var<double> in = tape.input(x.ref(), true);
      Var<double> m = min(in, axis);
      const Tensor<double> seed = testing::golden_tensor<double>(g["seed"], m.shape());
      tape.backward(m, seed.ref());
      testing::check_close(name + " min", m.value().data, g["min"], 0.0, 0.0);
      testing::check_close(name + " dmin", in.grad().data, g["dmin"], 0.0, 0.0);
      BOOST_TEST(argmax(x.ref(), axis).values == testing::golden_ints(g["argmax"]),
                 boost::test_tools::per_element());
      BOOST_TEST(argmin(in, axis).values == testing::golden_ints(g["argmin"]),
                 boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(argmax_argmin_and_min_along_each_axis) {
  const Tensor<float> x = Tensor<float>::from({2, 3}, {1, 7, 7, -2, 5, -2});
  BOOST_TEST(argmax(x.ref(), 1).values == std::vector<std::int64_t>({1, 1}),
             boost::test_tools::per_element());  // ties: the first
  BOOST_TEST(argmin(x.ref(), 1).values == std::vector<std::int64_t>({0, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(argmax(x.ref(), 0).values == std::vector<std::int64_t>({0, 0, 0}),
             boost::test_tools::per_element());
  const Indices kept = argmin(x.ref(), -2, true);
  BOOST_TEST(kept.shape == Shape({1, 3}));
  BOOST_TEST(kept.values == std::vector<std::int64_t>({1, 1, 1}), boost::test_tools::per_element());
  BOOST_TEST(argmax(Tensor<float>::from({3}, {0, 4, 2}).ref(), 0).item() == 1);

  Tape<float> tape;
  Var<float> v = tape.input(x.ref(), true);
  Var<float> m = min(v, 1);
  BOOST_TEST(m.shape() == Shape({2}));
  BOOST_TEST(m.value()[0] == 1.0f);
  BOOST_TEST(m.value()[1] == -2.0f);
  BOOST_TEST(argmax(m, 0).item() == 0);  // the Var overload reads the value
  tape.backward(sum(m));
  // The gradient goes to the first minimum only.
  const std::vector<float> expected = {1, 0, 0, 1, 0, 0};
  for (int i = 0; i < 6; ++i) BOOST_TEST(v.grad()[i] == expected[i]);
}

BOOST_AUTO_TEST_CASE(nan_is_the_extreme) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor<float> x = Tensor<float>::from({4}, {1, nan, 3, nan});
  BOOST_TEST(argmax(x.ref(), 0).item() == 1);
  BOOST_TEST(argmin(x.ref(), 0).item() == 1);
  Tape<float> tape;
  Var<float> v = tape.input(x.ref());
  BOOST_TEST(std::isnan(min(v, 0).item()));
  const TopK<float> large = topk(v, 2, 0);
  BOOST_TEST(large.indices.values == std::vector<std::int64_t>({1, 3}),
             boost::test_tools::per_element());
  const TopK<float> small = topk(v, 3, 0, false);  // NaN sorts above every number
  BOOST_TEST(small.indices.values == std::vector<std::int64_t>({0, 2, 1}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(topk_ties_keep_axis_order_and_k_zero_is_empty) {
  Tape<double> tape;
  Var<double> v = tape.input(Tensor<double>::from({5}, {2, 1, 2, 3, 2}).ref());
  BOOST_TEST(topk(v, 4, 0).indices.values == std::vector<std::int64_t>({3, 0, 2, 4}),
             boost::test_tools::per_element());
  BOOST_TEST(topk(v, 3, 0, false).indices.values == std::vector<std::int64_t>({1, 0, 2}),
             boost::test_tools::per_element());
  const TopK<double> none = topk(v, 0, 0);
  BOOST_TEST(none.values.shape() == Shape({0}));
  BOOST_TEST(none.indices.numel() == 0);
}

BOOST_AUTO_TEST_CASE(gradcheck_min_and_topk) {
  // Distinct random values: the selection is locally constant, so the gradient exists.
  const std::vector<Tensor<double>> in = {random_tensor({3, 4, 2}, 5)};
  for (int axis : {0, 1, -1}) {
    for (bool keep : {false, true}) {
      TAPELOOP_CHECK_GRADCHECK([=](auto&, const auto& x) { return min(x[0], axis, keep); }, in);
    }
    for (bool largest : {true, false}) {
      TAPELOOP_CHECK_GRADCHECK(
          [=](auto&, const auto& x) { return topk(x[0], 2, axis, largest).values; }, in);
    }
  }
  check_float_matches_double([](auto&, const auto& x) { return topk(x[0], 3, 1).values; }, in);
  check_float_matches_double([](auto&, const auto& x) { return min(x[0], 0); }, in);
}

BOOST_AUTO_TEST_CASE(errors_name_op_and_shapes) {
  const Tensor<float> empty = Tensor<float>::zeros({2, 0});
  TAPELOOP_CHECK_THROW_MESSAGE(argmax(empty.ref(), 1), ShapeError,
                               "argmax: [2,0]: axis 1 has size 0");
  TAPELOOP_CHECK_THROW_MESSAGE(argmin(empty.ref(), 2), ShapeError, "argmin");
  Tape<float> tape;
  Var<float> v = tape.input(Tensor<float>::zeros({2, 3}).ref());
  const std::size_t before = tape.size();
  TAPELOOP_CHECK_THROW_MESSAGE(topk(v, 4, 1), ValueError,
                               "topk: k = 4 for axis 1 of [2,3]: expected 0 <= k <= 3");
  TAPELOOP_CHECK_THROW_MESSAGE(topk(v, -1, 0), ValueError, "topk: k = -1");
  TAPELOOP_CHECK_THROW_MESSAGE(min(v, 2), ShapeError, "min");
  BOOST_TEST(tape.size() == before);
  TAPELOOP_CHECK_THROW_MESSAGE(Indices{}.item(), ValueError, "Indices::item: [] holds 0 values");
}

BOOST_AUTO_TEST_SUITE_END()
