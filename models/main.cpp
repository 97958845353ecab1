// The main job: the lecture on recurrent nets (Hinton's week 7), run. Each demo trains or measures
// a model of models/ and writes its numbers, claims and plots into a report folder.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "tapeloop/models/lecture.hpp"
#include "tapeloop/ops/build_info.hpp"

namespace {

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: tapeloop-main [--full] [--report DIR] [DEMO...]\n\n"
               "Runs the lecture's demos (all of them by default, the fast versions) and writes a\n"
               "report: DIR/index.html with every plot and number (default DIR: tapeloop-report).\n"
               "Exits with 1 if a claim of the report is not met.\n\n"
               "  --full        the longer versions (more seeds, more steps)\n"
               "  --report DIR  where the report goes\n"
               "  --help        this text\n\ndemos:\n");
  for (const auto& d : tapeloop::models::lecture_demos()) {
    std::fprintf(out, "  %-16s %s: %s\n", d.name, d.lecture, d.summary);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tapeloop::models;
  if (const std::string missing = tapeloop::missing_cpu_features(); !missing.empty()) {
    std::fprintf(stderr,
                 "tapeloop-main: built for a CPU with %s, which this one lacks; rebuild it here "
                 "or with -DTAPELOOP_NATIVE=OFF (docs/kernels.md)\n",
                 missing.c_str());
    return EXIT_FAILURE;
  }
  DemoOptions options;
  std::string dir = "tapeloop-report";
  std::vector<const Demo*> chosen;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return EXIT_SUCCESS;
    } else if (arg == "--full") {
      options.full = true;
    } else if (arg == "--report") {
      if (i + 1 == argc) {
        std::fprintf(stderr, "tapeloop-main: --report needs a folder\n");
        return 2;
      }
      dir = argv[++i];
    } else {
      const Demo* found = nullptr;
      for (const Demo& d : lecture_demos()) {
        if (arg == d.name) found = &d;
      }
      if (!found) {
        std::fprintf(stderr, "tapeloop-main: no demo or option '%s'\n\n", arg.c_str());
        usage(stderr);
        return 2;
      }
      chosen.push_back(found);
    }
  }
  if (chosen.empty()) {
    for (const Demo& d : lecture_demos()) chosen.push_back(&d);
  }
  try {
    Report report(dir, "Recurrent nets, after Hinton's lecture 7, run on tapeloop");
    report.paragraph(std::string("Kernels: ") + tapeloop::kernel_isa() +
                     "; BLAS: " + tapeloop::blas_info() + ".");
    for (const Demo* d : chosen) {
      std::printf("%s (%s): %s\n", d->name, d->lecture, d->summary);
      std::fflush(stdout);
      const int met_before = report.claims_met(), claims_before = report.claims();
      d->run(report, options);
      report.write();
      std::printf("  claims met: %d of %d\n\n", report.claims_met() - met_before,
                  report.claims() - claims_before);
    }
    const auto index = std::filesystem::absolute(report.write());
    std::printf("Report: %s (claims met: %d of %d)\n", index.string().c_str(), report.claims_met(),
                report.claims());
    return report.claims_met() == report.claims() ? EXIT_SUCCESS : EXIT_FAILURE;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tapeloop-main: %s\n", e.what());
    return EXIT_FAILURE;
  }
}
