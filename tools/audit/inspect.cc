#include "tools/audit/inspect.h"

#include "absl/strings/str_cat.h"
#include "core/ledger/chain_verifier.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "google/protobuf/util/json_util.h"

namespace trialog::audit {
namespace {

// Every perfect node of a tree, filled from CompactTree::Append.
class MemoryNodes : public merkle::NodeSource {
 public:
  void Put(merkle::NodeId id, absl::string_view hash) {
    if (id.level >= levels_.size()) levels_.resize(id.level + 1);
    std::string& level = levels_[id.level];
    if (level.size() < (id.index + 1) * merkle::kHashSize) level.resize((id.index + 1) * merkle::kHashSize);
    level.replace(id.index * merkle::kHashSize, merkle::kHashSize, hash.data(), merkle::kHashSize);
  }
  absl::StatusOr<std::string> GetNode(merkle::NodeId id) const override {
    if (id.level < levels_.size() && (id.index + 1) * merkle::kHashSize <= levels_[id.level].size()) {
      return levels_[id.level].substr(id.index * merkle::kHashSize, merkle::kHashSize);
    }
    return absl::NotFoundError(absl::StrCat("no node at level ", id.level, " index ", id.index));
  }

 private:
  std::vector<std::string> levels_;  // node i of a level at [32 i, 32 i + 32)
};

}  // namespace

absl::StatusOr<Inspection> InspectEntry(const ledger::EntryReader& reader, uint64_t index,
                                        absl::string_view checkpoint_note, const note::Verifier& ledger_key) {
  absl::StatusOr<note::Checkpoint> checkpoint = note::OpenCheckpoint(checkpoint_note, ledger_key);
  if (!checkpoint.ok()) {
    return absl::Status(checkpoint.status().code(), absl::StrCat("checkpoint: ", checkpoint.status().message()));
  }
  if (index >= checkpoint->size) {
    return absl::OutOfRangeError(absl::StrCat("entry ", index, " is not covered by the checkpoint, whose size is ",
                                              checkpoint->size, " (entries 0..", checkpoint->size, "-1)"));
  }
  Inspection out;
  out.checkpoint = *checkpoint;

  // One pass: leaf hashes of [0, checkpoint size) into the tree, the
  // registry replayed up to the entry.
  MemoryNodes nodes;
  merkle::CompactTree tree;
  ledger::ChainVerifier registry(/*domain=*/{}, /*check_signatures=*/false);
  absl::Status replay = absl::OkStatus();
  std::string prev_leaf = ledger::ZeroHash();
  absl::Status problem = absl::OkStatus();
  bool found = false;
  absl::Status read = reader(0, [&](absl::string_view bytes) -> bool {
    const uint64_t i = tree.size();
    absl::StatusOr<ledger::ParsedEntry> parsed = ledger::ParseEntry(bytes);
    if (!parsed.ok()) {
      problem = absl::DataLossError(absl::StrCat("entry ", i, " is unreadable: ", parsed.status().message()));
      return false;
    }
    if (i < index) {
      if (replay.ok()) replay = registry.AddParsed(*parsed);
      prev_leaf = parsed->leaf_hash;
    } else if (i == index) {
      out.entry = *parsed;
      found = true;
    }
    tree.Append(parsed->leaf_hash, [&](merkle::NodeId id, absl::string_view h) { nodes.Put(id, h); });
    return tree.size() < out.checkpoint.size;
  });
  if (!problem.ok()) return problem;
  if (!read.ok()) return read;
  if (!found || tree.size() < out.checkpoint.size) {
    return absl::DataLossError(absl::StrCat("the source holds ", tree.size(), " entries but the checkpoint covers ",
                                            out.checkpoint.size, found ? "" : absl::StrCat("; entry ", index,
                                                                                          " is missing")));
  }
  const ledger::ParsedEntry& e = out.entry;

  google::protobuf::util::JsonPrintOptions json_options;
  json_options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(e.envelope, &out.envelope_json, json_options).ok()) {
    out.envelope_json = "null";
  }
  out.expected_prev_leaf_hash = prev_leaf;
  out.chain_link_ok = e.entry.index() == index && e.entry.prev_leaf_hash() == prev_leaf;

  if (!replay.ok()) {
    out.signer_status = absl::FailedPreconditionError(
        absl::StrCat("the registry could not be replayed up to this entry: ", replay.message()));
  } else {
    absl::StatusOr<std::string> key = registry.SignerKey(e);
    if (key.ok()) {
      out.signer_key = *key;
      out.signature_ok = ledger::VerifyEnvelopeSignature(e.entry.signed_envelope(), *key).ok();
    } else {
      out.signer_status = key.status();
    }
  }

  absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(nodes, index, out.checkpoint.size);
  if (!proof.ok()) return proof.status();  // cannot happen: every node is in memory
  out.proof = *proof;
  out.proof_status = merkle::VerifyInclusion(index, out.checkpoint.size, e.leaf_hash, out.proof,
                                             out.checkpoint.root_hash);

  // Findings in verify's order of precedence.
  if (!out.chain_link_ok) {
    out.finding = ledger::Finding::kChainDamage;
    out.message = absl::StrCat("chain link broken: index field ", e.entry.index(), ", prev_leaf_hash ",
                               HexEncode(e.entry.prev_leaf_hash()), " but entry ", index,
                               index ? absl::StrCat(" follows an entry whose leaf hash is ", HexEncode(prev_leaf))
                                     : " must link to 32 zero bytes");
  } else if (!out.proof_status.ok()) {
    out.finding = ledger::Finding::kChainDamage;
    out.message = absl::StrCat("inclusion proof does not verify against the checkpoint root: ",
                               out.proof_status.message());
  } else if (!out.signer_status.ok()) {
    out.finding = ledger::Finding::kEnvelopeSignature;
    out.message = absl::StrCat("no key for the signer: ", out.signer_status.message());
  } else if (!out.signature_ok) {
    out.finding = ledger::Finding::kEnvelopeSignature;
    out.message = absl::StrCat("the envelope signature does not verify under ", e.envelope.actor().principal_id(),
                               "'s key as of this entry");
  } else {
    out.message = absl::StrCat("entry ", index, ": chain link, signature and inclusion proof (",
                               out.proof.size(), " hashes, tree size ", out.checkpoint.size, ") verified");
  }
  return out;
}

}  // namespace trialog::audit
