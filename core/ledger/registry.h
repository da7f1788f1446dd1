// The principal registry: who may sign, with which key, in which role and
// site, as the ledger itself records it (genesis and the Principal* events).
// It is a StateMachine, so the live sequencer and an offline verifier
// derive exactly the same registry from the same entries.

#ifndef TRIALOG_CORE_LEDGER_REGISTRY_H_
#define TRIALOG_CORE_LEDGER_REGISTRY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/state_machine.h"

namespace trialog::ledger {

struct Principal {
  std::string principal_id;
  std::string printed_name;
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string site_id;
  std::string public_key;     // the active key (32 bytes)
  bool revoked = false;
  uint64_t registered_at = 0;  // entry index of registration
  uint64_t changed_at = 0;     // entry index of the last change
};

class PrincipalRegistry : public StateMachine {
 public:
  // The principal as of now, or NOT_FOUND.
  absl::StatusOr<Principal> Find(absl::string_view principal_id) const;

  // The key an envelope from `actor` must verify under, after checking the
  // actor's claims: UNAUTHENTICATED if the principal is unknown or revoked;
  // PERMISSION_DENIED if the claimed role or site differs from the
  // registered ones. (Genesis, whose signer is not yet registered, is
  // handled by the caller: its key is in its own payload.)
  absl::StatusOr<std::string> KeyFor(const v1::Actor& actor) const;

  // Genesis only at index 0 and nowhere else; Principal* events only from a
  // sponsor admin, for principals that exist (or not yet, for register),
  // with 32-byte keys, and never revoking or demoting the last admin.
  absl::Status Check(const Candidate& c) const override;
  void Apply(const ParsedEntry& entry) override;
  std::unique_ptr<StateMachine> Clone() const override {
    return std::make_unique<PrincipalRegistry>(*this);
  }

  // Snapshot hooks (see StateMachine): a v1::RegistryState, principals in
  // id order. RestoreState checks every principal (non-empty id, known
  // role, 32-byte key, ids ascending and unique): INVALID_ARGUMENT naming
  // the first bad one, state unchanged.
  static constexpr absl::string_view kStateKind = "trialog.registry/1";
  std::string StateKind() const override { return std::string(kStateKind); }
  std::string SaveState() const override;
  absl::Status RestoreState(absl::string_view bytes) override;

  size_t size() const { return principals_.size(); }
  const std::map<std::string, Principal>& principals() const { return principals_; }
  // Ledger origin, from genesis ("" before genesis).
  const std::string& origin() const { return origin_; }

 private:
  std::map<std::string, Principal> principals_;
  std::string origin_;
};

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_REGISTRY_H_
