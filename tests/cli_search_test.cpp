// `hone search` end to end on a tiny generated image folder and a small ONNX network:
// the files it writes, the same trials for the same seed, a search killed after a trial
// resuming to the same trials.csv as an uninterrupted one, and bad input ending with one
// clear line and a non-zero exit.
#include <algorithm>
#include <cctype>
#include <csignal>
#include <fstream>

#include "cli_fixture.h"

namespace {

namespace fs = std::filesystem;
using namespace hone::test::cli;

struct Fixture {
  hone::test::TempDir tmp;
  fs::path dir = tmp.path, data = dir / "data", model = write_model(dir);
  Fixture() {
    write_folder(data / "train", 8, 1);
    write_folder(data / "val", 4, 2);
  }
  std::string search(const std::string& out, const std::string& more = "") const {
    return "search --model " + model.string() + " --data " + data.string() + " --out " + (dir / out).string() +
           " --trial-epochs 1 --epochs 2 --batch-sizes 4,8 --threads 1 --workers 1 --seed 3 --cache-dir " +
           (dir / "cache").string() + " " + more;
  }
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

// trials.csv without its last column (seconds, which differ run to run).
std::string trials_without_times(const fs::path& search) {
  std::string out;
  for (const std::string& l : lines(read_file(search / "trials.csv"))) out += l.substr(0, l.rfind(',')) + "\n";
  return out;
}

TEST(CliSearch, RunsTheTrialsWritesItsFilesAndRerunsTheBest) {
  Fixture f;
  const CliRun r = hone_cli(f.search("pso", "--method pso --trials 5 --population 3"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = lines(read_file(f.dir / "pso" / "trials.csv"));
  ASSERT_EQ(rows.size(), 6u) << r.output;
  EXPECT_EQ(rows[0], "trial,method,generation,lr,weight_decay,batch_size,head_lr_mult,strategy,val_acc,val_loss,seconds");
  EXPECT_EQ(rows[5].rfind("5,pso,2,", 0), 0u) << rows[5];
  for (const char* file : {"search.json", "trials.svg", "best/model.onnx", "best/metrics.csv", "trial-001/metrics.csv"})
    EXPECT_TRUE(fs::is_regular_file(f.dir / "pso" / file)) << "no " << file;
  EXPECT_FALSE(fs::exists(f.dir / "pso" / "trial-001" / "model.onnx")) << "a trial's weights are not kept";
  EXPECT_NE(r.output.find("trial 4/5 (pso, generation 2): lr "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("top 5 of 5 trials"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("best settings re-run: val accuracy"), std::string::npos) << r.output;
  // The default strategies: the model's stages by frozen depth, first and head stages left out.
  std::string sj = read_file(f.dir / "pso" / "search.json");
  sj.erase(std::remove_if(sj.begin(), sj.end(), ::isspace), sj.end());
  EXPECT_NE(sj.find(R"("categories":["feature-extract","partial:layer2","partial:layer1","partial:bn1","full"])"),
            std::string::npos) << sj;
  EXPECT_NE(read_file(f.dir / "pso" / "trials.svg").find(">trial</text>"), std::string::npos);
}

TEST(CliSearch, SameSeedSameTrialsAndAKilledSearchResumesToTheSame) {
  Fixture f;
  const std::string flags = "--method ga --trials 5 --population 3 --no-rerun";
  const CliRun whole = hone_cli(f.search("whole", flags));
  ASSERT_EQ(whole.status, 0) << whole.output;
  const CliRun killed = hone_cli(f.search("killed", flags), "HONE_TEST_KILL_AFTER_TRIALS=2");
  ASSERT_EQ(killed.status, 128 + SIGKILL) << killed.output;
  ASSERT_EQ(lines(read_file(f.dir / "killed" / "trials.csv")).size(), 3u);
  const CliRun resumed = hone_cli(f.search("killed", flags));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming the search"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find("trial 2/5"), std::string::npos) << "finished trials are not run again";
  EXPECT_EQ(trials_without_times(f.dir / "whole"), trials_without_times(f.dir / "killed"));
  EXPECT_FALSE(fs::exists(f.dir / "whole" / "best")) << "--no-rerun";
  // Another seed, other trials.
  const CliRun other = hone_cli(f.search("other", "--method ga --trials 2 --population 3 --no-rerun --seed 4"));
  ASSERT_EQ(other.status, 0) << other.output;
  EXPECT_NE(lines(trials_without_times(f.dir / "other"))[1], lines(trials_without_times(f.dir / "whole"))[1]);
}

// A learning rate too high for the model is a finding, not a failure: the trial is recorded
// with accuracy 0 and loss inf, and the search goes on.
TEST(CliSearch, ADivergedTrialScoresZeroAndTheSearchGoesOn) {
  Fixture f;
  const CliRun r = hone_cli(f.search("hot", "--trials 2 --no-rerun --strategies full --lr-range 1e30:1e31 --schedule constant"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = lines(read_file(f.dir / "hot" / "trials.csv"));
  ASSERT_EQ(rows.size(), 3u) << r.output;
  EXPECT_NE(rows[1].find(",full,0,inf,"), std::string::npos) << rows[1];
  EXPECT_NE(r.output.find("diverged, val acc 0.000"), std::string::npos) << r.output;
}

// Settings that format the same as an earlier trial's are that trial again (a trial is
// deterministic): recorded with its score, not run. Here every dimension is pinned (ranges
// narrower than the printed digits), so only trial 1 runs.
TEST(CliSearch, RepeatedSettingsReuseTheirScoreInsteadOfRunningAgain) {
  Fixture f;
  const CliRun r = hone_cli(f.search("same", "--method ga --trials 4 --population 2 --no-rerun --strategies full "
                                             "--batch-sizes 4 --lr-range 0.01:0.0100000001 --wd-range 1e-4:1.00000001e-4 "
                                             "--head-lr-mult-range 5:5.0000001"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = lines(read_file(f.dir / "same" / "trials.csv"));
  ASSERT_EQ(rows.size(), 5u) << r.output;
  auto settings_and_score = [](const std::string& row) {  // columns 4..10: lr ... val_loss
    const size_t from = row.find(',', row.find(',', row.find(',') + 1) + 1);
    return row.substr(from, row.rfind(',') - from);
  };
  for (size_t i = 2; i < rows.size(); ++i) EXPECT_EQ(settings_and_score(rows[i]), settings_and_score(rows[1])) << rows[i];
  EXPECT_NE(r.output.find("trial 2/4 (ga, generation 1): lr 0.01 wd 0.0001 batch 4 head x5 full -> as trial 1, not run again: val acc"),
            std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(f.dir / "same" / "trial-001"));
  for (const char* d : {"trial-002", "trial-003", "trial-004"}) EXPECT_FALSE(fs::exists(f.dir / "same" / d)) << d;
}

// Ctrl-C (finetune's own test hook raises SIGINT after an optimizer step) stops the search
// with status 130 and leaves the unfinished trial unrecorded; the same command resumes.
TEST(CliSearch, CtrlCStopsTheSearchAndTheSameCommandResumes) {
  Fixture f;
  const std::string flags = "--trials 2 --no-rerun --batch-sizes 8";
  const CliRun stopped = hone_cli(f.search("s", flags), "HONE_TEST_INTERRUPT_AFTER_STEPS=1");
  EXPECT_EQ(stopped.status, 130) << stopped.output;
  EXPECT_NE(stopped.output.find("interrupted: trial 1 is not recorded"), std::string::npos) << stopped.output;
  EXPECT_FALSE(fs::exists(f.dir / "s" / "trials.csv"));
  const CliRun resumed = hone_cli(f.search("s", flags));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(lines(read_file(f.dir / "s" / "trials.csv")).size(), 3u);
}

TEST(CliSearch, BadInputEndsWithOneClearLine) {
  Fixture f;
  ASSERT_EQ(hone_cli(f.search("done", "--trials 1 --no-rerun")).status, 0);
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {f.search("a", "--trials 0"), "--trials must be at least 1, got 0"},
      {f.search("a", "--lr-range 5:1"), "--lr-range 5:1: LOW must be below HIGH"},
      {f.search("a", "--lr-range 0.1"), "--lr-range 0.1: expected LOW:HIGH"},
      {f.search("a", "--wd-range 0:1e-2"), "--wd-range 0:1e-2: LOW must be positive"},
      {f.search("a", "--batch-sizes 8,x"), "--batch-sizes 8,x: 'x' is not a number"},
      {f.search("a", "--strategies full,partial:layer9"), "no stage 'layer9'"},
      {f.search("a", "--strategies full,scratch"), "'scratch' is not feature-extract, partial:STAGE or full"},
      {f.search("a", "--method ga --population 1"), "--population must be in [2, 1000]"},
      {f.search("done", "--trials 1 --no-rerun --optimizer adam"), "fixed.optimizer: \"sgd\" there, \"adam\" now"},
      {f.search("done", "--trials 1 --no-rerun --lr-range 1e-3:1e-1"), "search.space[0].low: 0.0001 there, 0.001 now"},
      {"search --model " + f.model.string() + " --data " + (f.dir / "missing").string(), "is not a folder"},
  };
  for (const auto& c : cases) {
    const CliRun r = hone_cli(c.args);
    EXPECT_NE(r.status, 0) << c.args << "\n" << r.output;
    EXPECT_LT(r.status, 128) << "crashed: " << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(lines(r.output).size(), 1u) << c.args << "\n" << r.output;
  }
  // The refused changes left the finished search as it was: it still resumes; --restart
  // discards it for the new settings.
  EXPECT_EQ(hone_cli(f.search("done", "--trials 1 --no-rerun")).status, 0);
  const CliRun restarted = hone_cli(f.search("done", "--trials 1 --no-rerun --optimizer adam --restart"));
  EXPECT_EQ(restarted.status, 0) << restarted.output;
  EXPECT_NE(read_file(f.dir / "done" / "search.json").find("\"optimizer\": \"adam\""), std::string::npos);
}

}  // namespace
