// The model summary's table and parameter counts.
#include <cstdio>

#include "support/check.hpp"
#include "support/doc_blocks.hpp"
#include "tapeloop/models.hpp"
#include "tapeloop/models/char_model.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

BOOST_AUTO_TEST_SUITE(test_summary)

BOOST_AUTO_TEST_CASE(linear_table) {
  Generator rng(0);
  Linear<double> linear(3, 2, rng);
  linear.bias->set_requires_grad(false);
  BOOST_TEST(summary(linear) ==
             "Parameter  Shape  Parameters  Trainable\n"
             "---------------------------------------\n"
             "weight     [2,3]           6  yes\n"
             "bias       [2]             2  no\n"
             "---------------------------------------\n"
             "Total parameters: 8\n"
             "Trainable parameters: 6\n"
             "Frozen parameters: 2\n");
  BOOST_TEST(parameter_count(linear) == 8);
  BOOST_TEST(parameter_count(linear, true) == 6);
}

BOOST_AUTO_TEST_CASE(char_model_totals) {
  Generator rng(1);
  CharModel model({.vocabulary = 65, .embedding = 24, .hidden = 96, .layers = 2}, rng);
  std::int64_t sum = 0;
  for (auto& [name, p] : model.named_parameters()) sum += p->numel();
  // embedding 65*24; per LSTM layer 384*in + 384*96 + 2*384 (in = 24, then 96); readout 96*65+65
  BOOST_TEST(sum == 1560 + (9216 + 36864 + 768) + (36864 + 36864 + 768) + 6305);
  BOOST_TEST(parameter_count(model) == sum);
  BOOST_TEST(parameter_count(model, true) == sum);
  const std::string table = summary(model);
  BOOST_TEST_MESSAGE("\n" << table);
  BOOST_TEST(table.find("Total parameters: 129,209\n") != std::string::npos);
  BOOST_TEST(table.find("Frozen parameters: 0\n") != std::string::npos);
  BOOST_TEST(table.find("\nlstm.weight_hh_l1  [384,96]      36,864  yes\n") != std::string::npos);

  model.embedding.weight.set_requires_grad(false);
  BOOST_TEST(parameter_count(model, true) == sum - 1560);
  BOOST_TEST(summary(model).find("Frozen parameters: 1,560\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(documented_example) {
  Generator rng(0);
  // ---- training block: summary ----
  CharModel model({.vocabulary = 65, .embedding = 24, .hidden = 96, .layers = 2}, rng);
  model.embedding.weight.set_requires_grad(false);  // a pretrained embedding, frozen
  std::printf("%s", summary(model).c_str());
  std::int64_t trainable = parameter_count(model, /*trainable_only=*/true);  // 127,649
  // ---- end of training block ----
  BOOST_TEST(trainable == 127649);
  BOOST_TEST(tapeloop::testing::check_doc_blocks(__FILE__, "training.md", "training") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
