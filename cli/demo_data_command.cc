// `istar demo-data DIR`: everything a training demo needs, generated (no downloads).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "models/config.h"
#include "tasks/task.h"

namespace istar::cli {
namespace {

struct DemoDataFlags {
  std::string dir;
  uint64_t seed = 1;
  // The sentiment task's difficulty (Note [A harder demo] in tasks/demo_data.cc): hard enough
  // that a demo sweep's regularizers differ in accuracy, not only in isotropy.
  double contrast = 0.3;
  double label_noise = 0.1;
};

absl::StatusOr<int64_t> CountLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InternalError(absl::StrCat(path, ": cannot read the vocabulary just written"));
  int64_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

// A tiny BERT (hidden 32, 2 layers, 2 heads) over the demo vocabulary. With no weights file
// beside it, `istar train` initialises it from the trial's seed (docs/training.md).
absl::Status WriteTinyBertConfig(const std::string& model_dir) {
  ISTAR_ASSIGN_OR_RETURN(const int64_t vocab_size, CountLines(model_dir + "/vocab.txt"));
  std::ofstream out(model_dir + "/config.json");
  out << models::ModelConfigToJson(models::TinyBertConfig(vocab_size)) << "\n";
  if (!out) return absl::InternalError(absl::StrCat(model_dir, "/config.json: cannot write"));
  return absl::OkStatus();
}

absl::Status Run(const DemoDataFlags& flags) {
  const std::string sst2 = flags.dir + "/sst2";
  const std::string squad = flags.dir + "/squad";
  const std::string model = flags.dir + "/model";
  for (const std::string& dir : {sst2, squad, model}) {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) return absl::InvalidArgumentError(absl::StrCat(dir, ": ", error.message()));
  }
  const tasks::DemoOptions options{.seed = flags.seed};
  tasks::DemoOptions sentiment = options;
  sentiment.contrast_fraction = flags.contrast;
  sentiment.label_noise = flags.label_noise;
  ISTAR_RETURN_IF_ERROR(tasks::WriteDemoSentimentTask(sst2, sentiment));
  ISTAR_RETURN_IF_ERROR(tasks::WriteDemoQaTask(squad, options));
  // The other GLUE tasks, in their exact file formats: one folder each, named as the catalogue.
  std::string glue;
  for (const tasks::Task task : {tasks::Task::kCola, tasks::Task::kMrpc, tasks::Task::kQqp,
                                 tasks::Task::kRte, tasks::Task::kStsb, tasks::Task::kMnli}) {
    const std::string name(tasks::TaskName(task));
    ISTAR_RETURN_IF_ERROR(tasks::WriteDemoGlueTask(task, flags.dir + "/" + name, options));
    absl::StrAppend(&glue, glue.empty() ? "" : ", ", name);
  }
  ISTAR_RETURN_IF_ERROR(tasks::WriteDemoVocab(model + "/vocab.txt"));
  ISTAR_RETURN_IF_ERROR(WriteTinyBertConfig(model));
  std::cout << "wrote " << sst2 << " (SST-2 format), " << squad << " (SQuAD v1.1 format), "
            << flags.dir << "/{" << glue << "} (GLUE formats) and " << model
            << " (a tiny random BERT: config.json + vocab.txt)\n"
            << "try: istar train examples/train-demo.yaml (run where " << flags.dir
            << " is ./demo)\n";
  return absl::OkStatus();
}

}  // namespace

CommandRunner AddDemoDataCommand(CLI::App& app) {
  auto flags = std::make_shared<DemoDataFlags>();
  CLI::App* cmd = app.add_subcommand(
      "demo-data",
      "Write synthetic demo data: a sentiment task in SST-2 format, a QA task in SQuAD format, "
      "CoLA, MRPC, QQP, RTE, STS-B and MNLI tasks in GLUE's formats, and a tiny random BERT "
      "folder (config.json + vocab.txt) that `istar train` initialises.");
  cmd->add_option("DIR", flags->dir,
                  "Output folder (gets sst2/, squad/, cola/, mrpc/, qqp/, rte/, stsb/, mnli/ and "
                  "model/)")
      ->required();
  cmd->add_option("--seed", flags->seed, "Seed of the generated data")->default_val(1);
  cmd->add_option("--contrast", flags->contrast,
                  "Share of the SST-2 sentences whose words point both ways (\"wonderful but "
                  "tedious\", \"not wonderful\"); 0 states every label plainly")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--label-noise", flags->label_noise,
                  "Share of the SST-2 labels flipped at random (train and dev): the best dev "
                  "accuracy is about 1 minus it")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  return [flags] {
    const absl::Status status = Run(*flags);
    return status.ok() ? 0 : ReportError("demo-data", status);
  };
}

}  // namespace istar::cli
