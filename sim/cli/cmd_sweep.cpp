// mlssim sweep: run every point of a sweep file as its own `mlssim run` child
// process (SystemC elaborates one simulation per process), up to -j at a time;
// each finished point is saved at once, so an interrupted sweep resumes where it
// stopped. See docs/sweep.md.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "ref/io/file_io.h"
#include "ref/core/error.h"
#include "sim/cli/cli_options.h"
#include "sim/cli/commands.h"
#include "sim/exec/process.h"
#include "sim/exec/worker_pool.h"
#include "sim/io/json_file.h"
#include "sim/run/report.h"
#include "sim/sweep/sweep.h"


namespace mls {

namespace {

namespace fs = std::filesystem;
using sweep::ojson;
using sweep::Point;
using sweep::Sweep;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Shard {
  int index = 1;  // 1-based
  int count = 1;
  bool whole() const { return count == 1; }
  bool owns(size_t point_index) const { return int(point_index % size_t(count)) == index - 1; }
};

Shard parse_shard(const std::string& text) {
  Shard s;
  char slash = 0, extra = 0;
  std::istringstream in(text);
  if (!(in >> s.index >> slash >> s.count) || slash != '/' || (in >> extra) || s.count < 1 || s.index < 1 ||
      s.index > s.count)
    throw Error("--shard must be I/N with 1 <= I <= N (e.g. 2/8), got '" + text + "'");
  return s;
}

fs::path point_path(const fs::path& dir, const Point& p) { return dir / "points" / (p.id + ".json"); }

// A point's record in `dir`: its content when it is a finished record of `p`;
// otherwise why not (empty when there is no file at all).
struct Found {
  std::optional<ojson> record;
  std::string path, problem;
};

Found read_record(const fs::path& dir, const Point& p) {
  Found f;
  f.path = point_path(dir, p).string();
  std::error_code ec;
  if (!fs::exists(f.path, ec)) return f;
  std::string text;
  try {
    text = read_input_file(f.path, "point record", kMaxTextFileBytes);
  } catch (const Error& e) {
    f.problem = e.what();
    return f;
  }
  try {
    ojson r = parse_json_text<ojson>(text, f.path);
    f.problem = sweep::record_problem(r, p);
    if (f.problem.empty()) f.record = std::move(r);
  } catch (const std::exception&) {
    f.problem = "not a JSON point record";  // the parser's message would echo the file's bytes
  }
  return f;
}

void make_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create directory: " + ec.message());
}

// ---------------------------------------------------------------------------
// Child processes.

// One sweep at a time per shard of a results directory: a second one on the
// same --out (and shard) would compute every point again.
exec::FileLock lock_results(const fs::path& out, const Shard& shard) {
  const std::string name = std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
  return exec::FileLock(out / (".sweep-" + name + ".lock"),
                        out.string() + ": another mlssim sweep is running" +
                            (shard.whole() ? "" : " shard " + std::to_string(shard.index) + "/" +
                                                      std::to_string(shard.count)) +
                            " in this results directory; wait for it or use another --out");
}

struct Running {
  const Point* point;
  Clock::time_point start;
  fs::path report, log;
  bool training = false;  // the point's second child: its training run, after `mlssim run`
};

// The training runs' program (tools/train.py as a command): beside this mlssim,
// where the build (build/sim/mlssim-train) and cmake --install (P/bin) put it.
// Found before any point runs when a point trains.
std::string train_program(const Sweep& s, const std::vector<const Point*>& todo) {
  const Point* first = nullptr;
  for (const Point* p : todo)
    if (!first && p->trains()) first = p;
  if (!first) return "";
  const fs::path self = fs::read_symlink("/proc/self/exe");
  const fs::path program = self.parent_path() / "mlssim-train";
  if (::access(program.c_str(), X_OK) != 0)
    throw Error(s.file + ": " + first->label() + " sets train_steps, but there is no mlssim-train beside " +
                self.string() + " (the build makes it with the Python module; cmake --install puts it in bin/)");
  return program.string();
}

class Runner {
 public:
  // Reports go to a private temporary directory, never into RESULTS_DIR,
  // which shards on other nodes may share.
  Runner(const Sweep& sweep, const fs::path& out, int jobs, size_t total, size_t skipped, std::string trainer)
      : sweep_(sweep), out_(out), trainer_(std::move(trainer)), tmp_("mlssim-sweep", "sweep"), jobs_(jobs),
        total_(total), done_(skipped), skipped_(skipped) {}

  // Runs `todo`; returns when all are done, one failed (the others that were
  // running are finished first) or the user interrupted.
  void run(const std::vector<const Point*>& todo) {
    size_t next = 0;
    while (!exec::interrupted() && (next < todo.size() || pool_.running() > 0)) {
      while (!exec::interrupted() && failure_.empty() && pool_.running() < size_t(jobs_) && next < todo.size())
        launch(*todo[next++]);
      print_finished();  // after the launches, so "running" counts the replacements
      if (pool_.running() == 0) break;
      if (const std::optional<exec::WorkerPool::Ended> ended = pool_.wait_one()) finish(ended->pid, ended->status);
    }
    print_finished();
    if (exec::interrupted()) pool_.stop_all();
  }

  const std::string& failure() const { return failure_; }
  size_t done() const { return done_; }

 private:
  void launch(const Point& p) {
    Running r{&p, Clock::now(), tmp_.path() / (p.id + ".report.json"), tmp_.path() / (p.id + ".stderr")};
    running_[pool_.start(sweep::run_command(sweep_, p, r.report.string()), r.log)] = r;
  }

  fs::path train_dir(const Point& p) const { return tmp_.path() / (p.id + ".train"); }

  // The point's training run, in the slot its `mlssim run` had.
  void launch_training(Running r) {
    r.training = true;
    r.log = tmp_.path() / (r.point->id + ".train.stderr");
    running_[pool_.start(trainer_, sweep::train_command(*r.point, train_dir(*r.point).string()), r.log)] = r;
  }

  void finish(pid_t pid, int status) {
    const auto it = running_.find(pid);
    if (it == running_.end()) return;
    const Running r = it->second;
    running_.erase(it);
    const double wall = seconds_since(r.start);
    if (exec::interrupted()) return;  // Ctrl-C reaches the children too: not their failure
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      const std::string why = exec::last_line(r.log);
      fail(*r.point, (r.training ? "`mlssim-train` " : "`mlssim run` ") + exec::exit_str(status) +
                         (why.empty() ? "" : ": " + why));
      return;
    }
    if (!r.training && r.point->trains()) {
      if (failure_.empty()) launch_training(r);
      return;
    }
    try {
      const nlohmann::json summary =
          r.training ? read_json_file((train_dir(*r.point) / "summary.json").string()) : nlohmann::json();
      const ojson record = sweep::point_record(sweep_, *r.point, read_json_file(r.report.string()), wall, summary);
      write_file_atomic(point_path(out_, *r.point).string(), json_text(record));
    } catch (const Error& e) {
      fail(*r.point, e.what());
      return;
    }
    ++done_;
    ++ran_;
    finished_.push_back({r.point, wall});
    std::error_code ec;
    fs::remove(r.report, ec);
    fs::remove(r.log, ec);
    fs::remove(tmp_.path() / (r.point->id + ".stderr"), ec);
    fs::remove_all(train_dir(*r.point), ec);
  }

  void fail(const Point& p, const std::string& why) {
    if (failure_.empty()) failure_ = sweep_.file + ": " + p.label() + " failed: " + why;
  }

  // One line per finished point, e.g. "sweep: 7/24 points (2 skipped), 2 running,
  // 0:14 elapsed, ETA 0:31; point 9 (chunk=8) 2.3 s". The ETA assumes the
  // points left take as long as the ones run so far (wall time, so -j counts).
  void print_finished() {
    const double elapsed = seconds_since(start_);
    const size_t left = total_ - done_;
    const std::string eta = left == 0 ? "done" : "ETA " + exec::duration_str(elapsed / double(ran_) * double(left));
    for (const auto& [point, wall] : finished_) {
      std::fprintf(stderr, "sweep: %zu/%zu points", done_, total_);
      if (skipped_) std::fprintf(stderr, " (%zu skipped)", skipped_);
      std::fprintf(stderr, ", %zu running, %s elapsed, %s; %s %.1f s\n", pool_.running(),
                   exec::duration_str(elapsed).c_str(), eta.c_str(), point->label().c_str(), wall);
    }
    finished_.clear();
  }

  const Sweep& sweep_;
  fs::path out_;
  std::string trainer_;  // mlssim-train, when a point trains
  exec::TempDir tmp_;
  int jobs_;
  size_t total_, done_, skipped_, ran_ = 0;
  std::map<pid_t, Running> running_;  // the pool's workers: the point each runs
  exec::WorkerPool pool_;  // after tmp_: its workers are stopped before the directory goes
  std::vector<std::pair<const Point*, double>> finished_;  // not yet printed: point, wall seconds
  std::string failure_;
  Clock::time_point start_ = Clock::now();
};

// ---------------------------------------------------------------------------
// Results.

// Gathers the records of every point from `out` and then `from` (the first
// found wins); a point without a record anywhere is an error, a record that
// fails its checks (sweep::record_problem) is refused naming its file, and
// nothing is written then. The copies from --from, results.json and
// results.csv are committed together.
int merge(const Sweep& s, const fs::path& out, const std::vector<std::string>& from) {
  std::vector<fs::path> dirs = {out};
  for (const std::string& d : from) dirs.push_back(d);
  std::vector<ojson> records;
  std::vector<size_t> copy;  // records found only in a --from directory
  size_t missing = 0;
  const Point* first_missing = nullptr;
  for (const Point& p : s.points) {
    std::optional<ojson> r;
    for (size_t d = 0; d < dirs.size() && !r; ++d) {
      Found f = read_record(dirs[d], p);
      if (!f.problem.empty())
        throw Error(f.path + ": " + f.problem + " (" + p.label() + "); run the sweep again to recompute it");
      if ((r = std::move(f.record)) && d > 0) copy.push_back(records.size());
    }
    if (!r) {
      if (!first_missing) first_missing = &p;
      ++missing;
      continue;
    }
    records.push_back(std::move(*r));
  }
  if (missing)
    throw Error(out.string() + ": " + std::to_string(missing) + " of " + std::to_string(s.points.size()) +
                " points have no finished record (first: " + first_missing->label() + ", id " + first_missing->id +
                "); run the missing shards first");
  OutputSet outputs;
  outputs.make_dir((out / "points").string());
  for (size_t i : copy)
    outputs.stage((out / "points" / (records[i]["id"].get<std::string>() + ".json")).string(), json_text(records[i]));
  outputs.stage((out / "results.json").string(), json_text(sweep::results_json(s, records)));
  outputs.stage((out / "results.csv").string(), sweep::results_csv(s, records));
  outputs.commit();
  std::fprintf(stderr, "sweep: wrote %s and %s (%zu points)\n", (out / "results.csv").c_str(),
               (out / "results.json").c_str(), records.size());
  return 0;
}

void list_points(const Sweep& s, const Shard& shard) {
  for (const Point& p : s.points)
    if (shard.owns(p.index)) std::printf("%s %s\n", p.id.c_str(), p.label().c_str());
}

int run_sweep(const Sweep& s, const fs::path& out, int jobs, const Shard& shard) {
  std::vector<const Point*> owned, todo;
  for (const Point& p : s.points)
    if (shard.owns(p.index)) owned.push_back(&p);
  // A record that fails its checks is recomputed, and said so (once, under the lock).
  auto unfinished = [&](bool tell) {
    todo.clear();
    for (const Point* p : owned) {
      const Found f = read_record(out, *p);
      if (f.record) continue;
      todo.push_back(p);
      if (tell && !f.problem.empty())
        std::fprintf(stderr, "sweep: %s: %s; %s is computed again\n", f.path.c_str(), f.problem.c_str(),
                     p->label().c_str());
    }
  };
  unfinished(false);
  if (!todo.empty()) sweep::validate_trace(s);  // a bad trace fails here, not in every child
  const std::string trainer = train_program(s, todo);
  make_dir(out / "points");
  const exec::FileLock lock = lock_results(out, shard);
  unfinished(true);  // again under the lock: a sweep that just ended may have finished some
  const size_t skipped = owned.size() - todo.size();

  std::fprintf(stderr, "sweep: %s: %zu points", s.file.c_str(), owned.size());
  if (!shard.whole()) std::fprintf(stderr, " (shard %d/%d of %zu)", shard.index, shard.count, s.points.size());
  std::fprintf(stderr, ", -j %d, results in %s\n", jobs, out.c_str());
  if (s.duplicates) std::fprintf(stderr, "sweep: %zu duplicate point(s) of the file run once\n", s.duplicates);
  if (skipped)
    std::fprintf(stderr, "sweep: skipped %zu finished point(s) found in %s\n", skipped, (out / "points").c_str());

  exec::catch_interrupts();
  Runner runner(s, out, jobs, owned.size(), skipped, trainer);
  runner.run(todo);
  if (exec::interrupted()) {
    std::fprintf(stderr, "sweep: interrupted; %zu/%zu points are saved in %s; run the same command to resume\n",
                 runner.done(), owned.size(), (out / "points").c_str());
    return 130;
  }
  if (!runner.failure().empty())
    throw Error(runner.failure() + " (" + std::to_string(runner.done()) + "/" + std::to_string(owned.size()) +
                " points are saved; fix and run the same command to resume)");
  if (!shard.whole()) {
    std::fprintf(stderr, "sweep: shard %d/%d complete; when every shard is, gather with: mlssim sweep %s --merge --out %s\n",
                 shard.index, shard.count, s.file.c_str(), out.c_str());
    return 0;
  }
  return merge(s, out, {});
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& args) {
  std::string file, out, shard_text = "1/1";
  std::vector<std::string> from;
  int jobs = 0;
  bool do_merge = false, list = false;
  cli::po::options_description desc("sweep options");
  desc.add_options()
      ("sweep", cli::po::value(&file)->value_name("SWEEP_FILE")->required(), "sweep file (YAML or .json)")
      ("out", cli::po::value(&out), "results directory: points/<id>.json, results.csv, results.json")
      ("jobs,j", cli::po::value(&jobs), "points run in parallel (default: the CPUs available)")
      ("shard", cli::po::value(&shard_text), "I/N: run points i with i % N == I-1 only (cluster job arrays)")
      ("merge", cli::po::bool_switch(&do_merge), "gather finished points into results.csv and results.json")
      ("from", cli::po::value(&from)->composing(), "with --merge: also read points from this results directory (repeatable)")
      ("list", cli::po::bool_switch(&list), "print the points (id and parameters) and exit");
  cli::po::positional_options_description pos;
  pos.add("sweep", 1);
  cli::po::variables_map vm;
  if (!cli::parse(args, "usage: mlssim sweep SWEEP_FILE [-j N] [--shard I/N] --out RESULTS_DIR\n"
                        "       mlssim sweep SWEEP_FILE --merge [--from DIR ...] --out RESULTS_DIR",
                  desc, pos, vm))
    return 0;
  const Shard shard = parse_shard(shard_text);
  if (vm.count("jobs") && jobs < 1) throw Error("-j must be at least 1, got " + std::to_string(jobs));
  if (jobs == 0) jobs = exec::available_cpus();
  if (do_merge && vm.count("shard")) throw Error("--merge gathers every shard: drop --shard");
  if (!from.empty() && !do_merge) throw Error("--from is for --merge");

  const Sweep s = sweep::load_sweep(file);  // every point validated before anything runs
  if (list) {
    list_points(s, shard);
    return 0;
  }
  if (out.empty()) throw Error("--out RESULTS_DIR is required");
  // The result files, before any point runs: a directory or socket on one of them fails now.
  for (const char* name : {"results.json", "results.csv"})
    check_output_target("--out", (fs::path(out) / name).string());
  if (do_merge) return merge(s, out, from);
  return run_sweep(s, out, jobs, shard);
}

}  // namespace mls
