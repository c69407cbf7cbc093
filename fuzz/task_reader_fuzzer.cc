// A libFuzzer target for the task readers (tasks/task.h): the GLUE TSV readers (SST-2, QNLI),
// SST-5's and SQuAD's JSON. The first byte picks the reader, the rest is the file (written to a
// temporary file, as the readers read paths). Every input must be rejected with a Status or read
// as examples whose labels are in range; no crash, no exception. Built and run by fuzz/run.sh;
// seeds are the task files of ../shared/data.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tasks/task.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 65536) return -1;
  static const std::string path = "/tmp/istar-task-fuzz-" + std::to_string(getpid());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  absl::StatusOr<istar::tasks::TaskData> read;
  switch (data[0] % 4) {
    case 0:
      read = istar::tasks::ReadSst2Tsv(path);
      break;
    case 1:
      read = istar::tasks::ReadQnliTsv(path);
      break;
    case 2:
      read = istar::tasks::ReadSst5(path);
      break;
    default:
      read = istar::tasks::ReadSquadJson(path);
      break;
  }
  if (read.ok()) {
    for (const istar::tasks::ClassificationExample& e : read->classification) {
      if (e.label < 0 || e.label >= istar::tasks::NumLabels(read->task)) std::abort();
    }
  }
  return 0;
}
