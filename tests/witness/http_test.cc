// Three witnesses on loopback ports (in-process servers, real HTTP through
// libmicrohttpd and libcurl): a growing ledger is cosigned by all three, a
// forked ledger (same key, different history) is refused by every one, and
// the cosignatures verify under the spec's message format, checked by
// core/note and independently by PyNaCl (python3-nacl).

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/crypto/crypto.h"
#include "core/note/cosignature.h"
#include "core/note/note.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/witness/test_ledger.h"
#include "tests/witness/test_util.h"
#include "tools/witness/http_server.h"
#include "tools/witness/witness.h"
#include "witness/client.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::TestLedger;

constexpr char kLedgerName[] = "trialog.example/imt-crizotinib-01";
constexpr int kWitnesses = 3;

class ThreeWitnessesTest : public ::testing::Test {
 protected:
  struct Node {
    std::string name;
    crypto::SigningKey key = crypto::SigningKey::Generate();
    uint64_t clock = 0;
    std::unique_ptr<Witness> witness;
    std::unique_ptr<WitnessHttpServer> server;
    std::unique_ptr<WitnessClient> client;
  };

  ThreeWitnessesTest() : ledger_(note::NoteSigner(kLedgerName, crypto::SigningKey::Generate())) {}

  void SetUp() override {
    for (int i = 0; i < kWitnesses; ++i) {
      auto node = std::make_unique<Node>();
      node->name = absl::StrCat("witness", i, ".example/w");
      node->clock = 1700000000 + 1000 * i;
      nodes_.push_back(std::move(node));
      ASSERT_NO_FATAL_FAILURE(Start(i));
    }
  }

  void Start(int i) {
    Node& n = *nodes_[i];
    WitnessOptions o;
    o.dir = dir_ / absl::StrCat("w", i);
    o.name = n.name;
    o.logs = {LogConfig{kLedgerName, {ledger_.signer().verifier()}}};
    const uint64_t clock = n.clock;
    o.clock = [clock] { return clock; };
    absl::StatusOr<std::unique_ptr<Witness>> w = Witness::Open(std::move(o), n.key);
    ASSERT_TRUE(w.ok()) << w.status();
    n.witness = *std::move(w);
    HttpServerOptions http;
    http.listen = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<WitnessHttpServer>> s =
        WitnessHttpServer::Start(http, n.witness.get());
    ASSERT_TRUE(s.ok()) << s.status();
    n.server = *std::move(s);
    absl::StatusOr<std::unique_ptr<WitnessClient>> c = WitnessClient::Create(n.server->url());
    ASSERT_TRUE(c.ok()) << c.status();
    n.client = *std::move(c);
  }

  void Stop(int i) {
    nodes_[i]->client.reset();
    nodes_[i]->server.reset();
    nodes_[i]->witness.reset();
  }

  std::vector<note::Cosigner> Cosigners() const {
    std::vector<note::Cosigner> out;
    for (const auto& n : nodes_) {
      out.push_back({n->name, note::KeyIdForType(n->name, note::kAlgCosignatureV1,
                                                 n->key.public_key()),
                     n->key.public_key()});
    }
    return out;
  }

  // Submits `ledger`'s checkpoint from `old_size` to every witness and
  // returns the note with every cosignature appended.
  std::string CosignByAll(const TestLedger& ledger, uint64_t old_size) {
    const AddCheckpointRequest request = ledger.Request(old_size);
    std::string note = request.checkpoint;
    for (const auto& n : nodes_) {
      absl::StatusOr<std::vector<std::string>> lines = n->client->AddCheckpoint(request);
      EXPECT_TRUE(lines.ok()) << n->name << ": " << lines.status();
      if (!lines.ok()) continue;
      EXPECT_EQ(lines->size(), 1u);
      for (const std::string& line : *lines) note += line;
    }
    return note;
  }

  // Runs the PyNaCl checker on `note` for every witness; returns its exit
  // code and puts its output in *out.
  int PythonVerify(const std::string& note, std::string* out) {
    const std::string path = dir_ / "cosigned.note";
    testing::WriteFileOrDie(path, note);
    std::string cmd = absl::StrCat("/usr/bin/python3 '", TRIALOG_SOURCE_DIR,
                                   "/tests/witness/verify_cosignature.py' '", path, "'");
    for (const auto& n : nodes_) {
      absl::StrAppend(&cmd, " '", n->name, "' ", HexEncode(n->key.public_key()));
    }
    return testing::RunCommand(cmd, out);
  }

  ScratchDir dir_;
  TestLedger ledger_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(ThreeWitnessesTest, CosignAGrowingLedger) {
  ledger_.Append(1);
  std::string note = CosignByAll(ledger_, 0);
  uint64_t cosigned = 1;
  for (uint64_t grow : {6u, 1u, 25u, 300u}) {
    ledger_.Append(grow);
    note = CosignByAll(ledger_, cosigned);
    cosigned = ledger_.size();
  }
  // core/note's verifier: three valid cosignatures with each witness's time.
  absl::StatusOr<note::OpenedNote> opened = note::OpenNote(note, {ledger_.signer().verifier()});
  ASSERT_TRUE(opened.ok()) << opened.status();
  absl::StatusOr<std::vector<note::Cosignature>> cosigs =
      note::VerifyCosignatures(*opened, Cosigners());
  ASSERT_TRUE(cosigs.ok()) << cosigs.status();
  ASSERT_EQ(cosigs->size(), 3u);
  for (int i = 0; i < kWitnesses; ++i) {
    EXPECT_EQ((*cosigs)[i].name, nodes_[i]->name);
    EXPECT_EQ((*cosigs)[i].timestamp, nodes_[i]->clock);
  }

  // PyNaCl, from the spec text: the same three, with the same times.
  std::string out;
  ASSERT_EQ(PythonVerify(note, &out), 0) << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << out;
  for (int i = 0; i < kWitnesses; ++i) {
    EXPECT_EQ(lines[i], absl::StrCat(nodes_[i]->name, " ", nodes_[i]->clock));
  }
  // ...and PyNaCl rejects them over altered text (a different size).
  std::string altered = note;
  const std::string size_line = absl::StrCat("\n", ledger_.size(), "\n");
  altered.replace(altered.find(size_line), size_line.size(),
                  absl::StrCat("\n", ledger_.size() + 1, "\n"));
  EXPECT_EQ(PythonVerify(altered, &out), 2) << out;
}

TEST_F(ThreeWitnessesTest, ForkedLedgerIsRefusedByEveryWitness) {
  ledger_.Append(10);
  TestLedger fork = ledger_;  // same key, same first 10 entries
  ledger_.Append(5, "honest");
  fork.Append(5, "rewritten");
  CosignByAll(ledger_, 0);  // every witness now holds the honest size 15

  for (const auto& n : nodes_) {
    SCOPED_TRACE(n->name);
    // Same size, different root: 409 with the cosigned size.
    absl::StatusOr<std::vector<std::string>> r = n->client->AddCheckpoint(fork.Request(15));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
    EXPECT_EQ(ConflictSize(r.status()).value_or(0), 15u);
    // A "new log" claim from size 0: 409, the witness remembers.
    r = n->client->AddCheckpoint(fork.Request(0));
    EXPECT_EQ(ConflictSize(r.status()).value_or(0), 15u);
  }
  fork.Append(10, "rewritten-more");
  for (const auto& n : nodes_) {
    SCOPED_TRACE(n->name);
    // The fork's own consistency proof from its size-15 tree: 422.
    absl::StatusOr<std::vector<std::string>> r = n->client->AddCheckpoint(fork.Request(15));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  }
  // The honest ledger keeps being cosigned by all three.
  ledger_.Append(10, "honest-more");
  const std::string note = CosignByAll(ledger_, 15);
  std::string out;
  EXPECT_EQ(PythonVerify(note, &out), 0) << out;
}

TEST_F(ThreeWitnessesTest, RestartedWitnessKeepsItsStateBehindANewPort) {
  ledger_.Append(33);
  CosignByAll(ledger_, 0);
  Stop(1);
  ASSERT_NO_FATAL_FAILURE(Start(1));
  absl::StatusOr<std::vector<std::string>> r = nodes_[1]->client->AddCheckpoint(ledger_.Request(0));
  EXPECT_EQ(ConflictSize(r.status()).value_or(0), 33u) << r.status();
  ledger_.Append(2);
  CosignByAll(ledger_, 33);
}

TEST_F(ThreeWitnessesTest, HttpSurface) {
  WitnessClient& client = *nodes_[0]->client;
  ledger_.Append(3);
  CosignByAll(ledger_, 0);

  // 409 carries the spec's Content-Type and body.
  absl::StatusOr<WitnessClient::RawReply> raw =
      client.PostRaw("/add-checkpoint", FormatAddCheckpointRequest(ledger_.Request(0)));
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->status, 409);
  EXPECT_EQ(raw->content_type, "text/x.tlog.size");
  EXPECT_EQ(raw->body, "3\n");
  // Malformed: 400 with a reason.
  raw = client.PostRaw("/add-checkpoint", "old 03\n\nx\n");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 400);
  EXPECT_THAT(raw->body, HasSubstr("leading zeros"));
  // Unknown path: 404. Too large: 413.
  raw = client.PostRaw("/add-checkpoints", "old 0\n\nx\n");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 404);
  raw = client.PostRaw("/add-checkpoint", std::string(300 * 1024, 'x'));
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 413);
  // The client maps the answers to statuses.
  TestLedger other(note::NoteSigner("trialog.example/other", crypto::SigningKey::Generate()));
  other.Append(1);
  EXPECT_EQ(client.AddCheckpoint(other.Request(0)).status().code(), absl::StatusCode::kNotFound);
  // And still works on the same connection afterwards.
  ledger_.Append(1);
  EXPECT_TRUE(client.AddCheckpoint(ledger_.Request(3)).ok());
}

TEST_F(ThreeWitnessesTest, GetRootDescribesTheWitness) {
  const std::string url = nodes_[2]->server->url() + "/";
  std::string page;
  ASSERT_EQ(testing::RunCommand(absl::StrCat("curl -sS '", url, "'"), &page), 0);
  EXPECT_THAT(page, HasSubstr(nodes_[2]->witness->cosigner_key()));
  EXPECT_THAT(page, HasSubstr(kLedgerName));
  std::string code;
  ASSERT_EQ(testing::RunCommand(
                absl::StrCat("curl -s -o /dev/null -w '%{http_code}' '", nodes_[2]->server->url(),
                             "/add-checkpoint'"),
                &code),
            0);
  EXPECT_EQ(code, "405");
}

TEST(WitnessClientTest, UnreachableWitnessIsUnavailable) {
  // Bind a server, note its port, stop it: nothing listens there now.
  ScratchDir dir;
  note::NoteSigner ledger("l", crypto::SigningKey::Generate());
  WitnessOptions o;
  o.dir = dir / "w";
  o.name = "w";
  o.logs = {LogConfig{"l", {ledger.verifier()}}};
  auto witness = Witness::Open(std::move(o), crypto::SigningKey::Generate());
  ASSERT_TRUE(witness.ok());
  HttpServerOptions http;
  http.listen = "127.0.0.1:0";
  auto server = WitnessHttpServer::Start(http, witness->get());
  ASSERT_TRUE(server.ok());
  const std::string url = (*server)->url();
  server->reset();
  auto client = WitnessClient::Create(url, absl::Seconds(2));
  ASSERT_TRUE(client.ok());
  auto r = (*client)->AddCheckpoint({0, {}, "l\n0\nx\n"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(WitnessClient::Create("ftp://x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WitnessHttpServerTest, RefusesBadListenAddresses) {
  ScratchDir dir;
  note::NoteSigner ledger("l", crypto::SigningKey::Generate());
  WitnessOptions o;
  o.dir = dir / "w";
  o.name = "w";
  o.logs = {LogConfig{"l", {ledger.verifier()}}};
  auto witness = Witness::Open(std::move(o), crypto::SigningKey::Generate());
  ASSERT_TRUE(witness.ok());
  for (const char* bad : {"7380", "example.com:80", "127.0.0.1:99999", "127.0.0.1:", "[::1]"}) {
    HttpServerOptions http;
    http.listen = bad;
    EXPECT_EQ(WitnessHttpServer::Start(http, witness->get()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  HttpServerOptions prefixed;
  prefixed.listen = "127.0.0.1:0";
  prefixed.prefix = "witness/";
  EXPECT_EQ(WitnessHttpServer::Start(prefixed, witness->get()).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Under a prefix, add-checkpoint moves below it.
  prefixed.prefix = "/witness";
  auto p = WitnessHttpServer::Start(prefixed, witness->get());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->url(), absl::StrCat("http://127.0.0.1:", (*p)->port(), "/witness"));
  auto client = WitnessClient::Create((*p)->url());
  ASSERT_TRUE(client.ok());
  auto reply = (*client)->PostRaw("/add-checkpoint", "old 0\n\nl\n");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 400) << reply->body;  // reached the witness: a malformed note
  auto root_client = WitnessClient::Create(absl::StrCat("http://127.0.0.1:", (*p)->port()));
  ASSERT_TRUE(root_client.ok());
  reply = (*root_client)->PostRaw("/add-checkpoint", "old 0\n\nl\n");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 404);  // not below the prefix
  // A port in use: UNAVAILABLE.
  HttpServerOptions first;
  first.listen = "127.0.0.1:0";
  auto a = WitnessHttpServer::Start(first, witness->get());
  ASSERT_TRUE(a.ok());
  HttpServerOptions same;
  same.listen = absl::StrCat("127.0.0.1:", (*a)->port());
  EXPECT_EQ(WitnessHttpServer::Start(same, witness->get()).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace trialog::witness

namespace trialog::witness {
namespace {

// Figures for the report (not a test: run with
// --gtest_also_run_disabled_tests --gtest_filter=*Figures*). One witness,
// sequential add-checkpoint requests over loopback HTTP, each growing the
// ledger by one entry (a consistency proof, an Ed25519 verification, a
// cosignature and an fsynced store per request).
TEST(WitnessFigures, DISABLED_SequentialAddCheckpointLatency) {
  ScratchDir dir;
  TestLedger ledger(note::NoteSigner(kLedgerName, crypto::SigningKey::Generate()));
  WitnessOptions o;
  o.dir = dir / "w";
  o.name = "w.example";
  o.logs = {LogConfig{kLedgerName, {ledger.signer().verifier()}}};
  auto witness = Witness::Open(std::move(o), crypto::SigningKey::Generate());
  ASSERT_TRUE(witness.ok());
  HttpServerOptions http;
  http.listen = "127.0.0.1:0";
  auto server = WitnessHttpServer::Start(http, witness->get());
  ASSERT_TRUE(server.ok());
  auto client = WitnessClient::Create((*server)->url());
  ASSERT_TRUE(client.ok());
  ledger.Append(1000);
  ASSERT_TRUE((*client)->AddCheckpoint(ledger.Request(0)).ok());
  constexpr int kRequests = 300;
  std::vector<AddCheckpointRequest> requests;
  for (int i = 0; i < kRequests; ++i) {
    const uint64_t old = ledger.size();
    ledger.Append(1);
    requests.push_back(ledger.Request(old));
  }
  std::vector<double> ms;
  for (const AddCheckpointRequest& r : requests) {
    const absl::Time start = absl::Now();
    ASSERT_TRUE((*client)->AddCheckpoint(r).ok());
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::sort(ms.begin(), ms.end());
  double total = 0;
  for (double m : ms) total += m;
  std::printf("add-checkpoint over HTTP, %d sequential requests: mean %.2f ms, p50 %.2f ms, "
              "p99 %.2f ms, %.0f requests/s\n",
              kRequests, total / kRequests, ms[kRequests / 2], ms[kRequests * 99 / 100],
              1000.0 * kRequests / total);
  // In process (no HTTP), the same work.
  ledger.Append(1);
  const uint64_t base = ledger.size();
  std::vector<AddCheckpointRequest> more;
  for (int i = 0; i < kRequests; ++i) {
    const uint64_t old = i == 0 ? base - 1 : ledger.size();
    if (i > 0) ledger.Append(1);
    more.push_back(ledger.Request(old));
  }
  const absl::Time start = absl::Now();
  for (const AddCheckpointRequest& r : more) ASSERT_TRUE((*witness)->AddCheckpoint(r).ok());
  std::printf("AddCheckpoint in process: %.2f ms each\n",
              absl::ToDoubleMilliseconds(absl::Now() - start) / kRequests);
}

}  // namespace
}  // namespace trialog::witness
