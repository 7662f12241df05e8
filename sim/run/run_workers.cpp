#include "sim/run/run_workers.h"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "ref/core/error.h"
#include "ref/io/file_io.h"
#include "sim/exec/process.h"
#include "sim/exec/temp_dir.h"
#include "sim/exec/worker_pool.h"
#include "sim/io/json_file.h"
#include "sim/run/progress.h"
#include "sim/run/report.h"

namespace mls {

namespace {

// A worker's progress line, "run: 3/10 layer pass: N MACs in S s[ (resumed)], ETA X":
// the layer, pass, MACs, seconds and whether it was resumed.
struct WorkerPass {
  std::string key;
  long long macs = 0;
  double seconds = 0;
  bool resumed = false;
};

bool parse_worker_line(const std::string& line, WorkerPass& out) {
  std::istringstream in(line);
  std::string run, count, layer, pass, macs_word, in_word, s_word;
  if (!(in >> run >> count >> layer >> pass >> out.macs >> macs_word >> in_word >> out.seconds >> s_word)) return false;
  if (run != "run:" || pass.size() < 2 || pass.back() != ':' || macs_word != "MACs" || in_word != "in") return false;
  pass.pop_back();
  out.key = layer + " " + pass;
  out.resumed = line.find(" (resumed), ETA ") != std::string::npos;
  return true;
}

struct Worker {
  pid_t pid = -1;
  std::string tag;
  std::filesystem::path report, log;
  exec::LogTail tail;
};

// A worker's stderr, forwarded line by line as it grows. Its progress lines
// go to the run's one PassLog, so their count and ETA are the whole run's,
// tagged with the worker: "run[2/4]: 12/57 ...".
void forward_log(Worker& w, PassLog& log, const std::map<std::string, PlannedPass>& plan) {
  w.tail.forward([&](const std::string& line) {
    WorkerPass wp;
    if (parse_worker_line(line, wp) && plan.count(wp.key)) {
      log.finished(plan.at(wp.key), wp.macs, wp.seconds, wp.resumed, "run[" + w.tag + "]");
      return;
    }
    if (line.rfind("warning: ", 0) == 0 || line.rfind("check: ", 0) == 0)
      return;  // a shard's summary: the parent prints the whole run's
    std::fprintf(stderr, "[%s] %s\n", w.tag.c_str(), line.c_str());
    std::fflush(stderr);
  });
}

}  // namespace

// Runs shard i/N of the run in worker i for i = 1..N, each its own process
// and so its own SystemC elaboration, and merges their partial reports. A
// worker that fails stops the others; its last stderr line is the error.
nlohmann::json run_in_workers(int jobs, const std::vector<std::string>& worker_args, const Trace& trace,
                              const std::vector<PlannedPass>& planned) {
  const int n = int(std::max<size_t>(1, std::min<size_t>(size_t(jobs), planned.size())));
  std::map<std::string, PlannedPass> plan;
  for (const PlannedPass& pp : planned) plan[pp.key()] = pp;
  PassLog log(true, eta_items(planned, n));  // the workers print nothing with --no-progress
  const exec::TempDir dir("mlssim-run", "-j");
  std::filesystem::create_directory(dir.path() / "claims");
  // The trace was read and checked here: the workers take its fingerprints.
  const std::string checked = (dir.path() / "trace-checked.json").string();
  write_file_atomic(checked, checked_trace_text(trace));
  // Ctrl-C or SIGTERM stops the workers and removes the temporary directory.
  exec::catch_interrupts();
  exec::WorkerPool pool;
  std::vector<Worker> workers;
  for (int i = 0; i < n; ++i) {
    const std::string tag = std::to_string(i + 1) + "/" + std::to_string(n);
    const std::filesystem::path log_path = dir.path() / ("worker" + std::to_string(i + 1) + ".log");
    workers.push_back({-1, tag, dir.path() / ("part" + std::to_string(i + 1) + ".json"), log_path,
                       exec::LogTail(log_path)});
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), worker_args.begin(), worker_args.end());
    args.insert(args.end(), {"--shard", tag, "--claims", (dir.path() / "claims").string(), "--trace-checked",
                             checked, "--report", workers.back().report.string(), "--quiet"});
    workers.back().pid = pool.start(args, log_path);
  }
  while (pool.running() > 0) {
    if (exec::interrupted()) {
      pool.stop_all();
      throw exec::Interrupted("-j: interrupted; the workers were stopped (with --resume DIR, run again to continue)");
    }
    if (const std::optional<exec::WorkerPool::Ended> ended = pool.wait_one(std::chrono::milliseconds(100))) {
      Worker& w = *std::find_if(workers.begin(), workers.end(), [&](const Worker& x) { return x.pid == ended->pid; });
      forward_log(w, log, plan);
      // Status 4: the worker's --check found a mismatch; its report is whole.
      const int status = ended->status;
      if (ended->lost || !WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 4)) {
        pool.stop_all();
        const std::string last = exec::last_line(w.log);
        throw Error("-j: worker " + w.tag + " failed (" + (ended->lost ? "lost" : exec::exit_str(status)) + ")" +
                    (last.empty() ? "" : ": " + last));
      }
    }
    for (Worker& w : workers) forward_log(w, log, plan);
  }
  std::vector<nlohmann::json> partials;
  std::vector<std::string> names;
  for (const Worker& w : workers) {
    partials.push_back(read_json_file(w.report.string(), "worker report"));
    names.push_back("worker " + w.tag);
  }
  return merge_partials(partials, names);
}


}  // namespace mls
