#include "core/ledger/registry.h"

#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "trialog/v1/snapshot.pb.h"

namespace trialog::ledger {
namespace {

absl::Status CheckNewPrincipal(const v1::PrincipalRegistered& p) {
  if (p.principal_id().empty()) return absl::InvalidArgumentError("principal_id is empty");
  if (p.printed_name().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("principal ", p.principal_id(), ": printed_name is empty (Part 11 §11.50)"));
  }
  if (p.role() == v1::ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat("principal ", p.principal_id(), ": role is unspecified"));
  }
  if (p.public_key().size() != crypto::kPublicKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "principal ", p.principal_id(), ": public_key must be 32 bytes, got ",
        p.public_key().size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Principal> PrincipalRegistry::Find(absl::string_view principal_id) const {
  auto it = principals_.find(std::string(principal_id));
  if (it == principals_.end()) {
    return absl::NotFoundError(absl::StrCat("principal ", principal_id, " is not registered"));
  }
  return it->second;
}

absl::StatusOr<std::string> PrincipalRegistry::KeyFor(const v1::Actor& actor) const {
  auto it = principals_.find(actor.principal_id());
  if (it == principals_.end()) {
    return absl::UnauthenticatedError(
        absl::StrCat("principal ", actor.principal_id(), " is not registered in this ledger"));
  }
  const Principal& p = it->second;
  if (p.revoked) {
    return absl::UnauthenticatedError(absl::StrCat("principal ", actor.principal_id(),
                                                   " was revoked at entry ", p.changed_at));
  }
  if (actor.role() != p.role) {
    return absl::PermissionDeniedError(absl::StrCat(
        "principal ", actor.principal_id(), " claims role ", v1::Role_Name(actor.role()),
        " but is registered as ", v1::Role_Name(p.role)));
  }
  if (actor.site_id() != p.site_id) {
    return absl::PermissionDeniedError(absl::StrCat("principal ", actor.principal_id(),
                                                    " claims site \"", actor.site_id(),
                                                    "\" but is registered at \"", p.site_id, "\""));
  }
  return p.public_key;
}

absl::Status PrincipalRegistry::Check(const Candidate& c) const {
  const v1::Event& event = c.envelope.event();
  const bool is_genesis = event.kind_case() == v1::Event::kGenesis;
  if (c.index == 0 && !is_genesis) {
    return absl::FailedPreconditionError("entry 0 must be a genesis event");
  }
  if (c.index != 0 && is_genesis) {
    return absl::FailedPreconditionError(
        absl::StrCat("genesis is only allowed at entry 0; this ledger already has ", c.index,
                     " entries"));
  }
  if (is_genesis) {
    const v1::Genesis& g = event.genesis();
    if (g.ledger_origin().empty()) {
      return absl::InvalidArgumentError("genesis: ledger_origin is empty");
    }
    if (absl::Status s = CheckNewPrincipal(g.first_admin()); !s.ok()) return s;
    if (g.first_admin().role() != v1::ROLE_SPONSOR_ADMIN) {
      return absl::FailedPreconditionError("genesis: first_admin must be a ROLE_SPONSOR_ADMIN");
    }
    if (c.envelope.actor().principal_id() != g.first_admin().principal_id() ||
        c.envelope.actor().role() != v1::ROLE_SPONSOR_ADMIN) {
      return absl::FailedPreconditionError(
          "genesis must be signed by the first administrator it registers");
    }
    return absl::OkStatus();
  }

  const bool is_admin_event = event.kind_case() == v1::Event::kPrincipalRegistered ||
                              event.kind_case() == v1::Event::kPrincipalRoleChanged ||
                              event.kind_case() == v1::Event::kPrincipalKeyRotated ||
                              event.kind_case() == v1::Event::kPrincipalRevoked;
  if (!is_admin_event) return absl::OkStatus();
  if (c.envelope.actor().role() != v1::ROLE_SPONSOR_ADMIN) {
    return absl::PermissionDeniedError(
        absl::StrCat("only a ROLE_SPONSOR_ADMIN may change the principal registry; actor is ",
                     v1::Role_Name(c.envelope.actor().role())));
  }

  auto existing = [&](const std::string& id) -> absl::StatusOr<const Principal*> {
    auto it = principals_.find(id);
    if (it == principals_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("principal ", id, " is not registered"));
    }
    if (it->second.revoked) {
      return absl::FailedPreconditionError(
          absl::StrCat("principal ", id, " was revoked at entry ", it->second.changed_at));
    }
    return &it->second;
  };
  auto active_admins = [&]() {
    int n = 0;
    for (const auto& [id, p] : principals_) n += (!p.revoked && p.role == v1::ROLE_SPONSOR_ADMIN);
    return n;
  };

  switch (event.kind_case()) {
    case v1::Event::kPrincipalRegistered: {
      const v1::PrincipalRegistered& p = event.principal_registered();
      if (absl::Status s = CheckNewPrincipal(p); !s.ok()) return s;
      if (principals_.count(p.principal_id())) {
        return absl::FailedPreconditionError(absl::StrCat(
            "principal ", p.principal_id(), " is already registered (ids are never reused)"));
      }
      for (const auto& [id, q] : principals_) {
        if (q.public_key == p.public_key()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "public key of ", p.principal_id(), " is already registered to ", id));
        }
      }
      return absl::OkStatus();
    }
    case v1::Event::kPrincipalRoleChanged: {
      const v1::PrincipalRoleChanged& rc = event.principal_role_changed();
      absl::StatusOr<const Principal*> p = existing(rc.principal_id());
      if (!p.ok()) return p.status();
      if (rc.new_role() == v1::ROLE_UNSPECIFIED) {
        return absl::InvalidArgumentError("principal_role_changed: new_role is unspecified");
      }
      if ((*p)->role == v1::ROLE_SPONSOR_ADMIN && rc.new_role() != v1::ROLE_SPONSOR_ADMIN &&
          active_admins() == 1) {
        return absl::FailedPreconditionError("cannot demote the last active sponsor admin");
      }
      return absl::OkStatus();
    }
    case v1::Event::kPrincipalKeyRotated: {
      const v1::PrincipalKeyRotated& kr = event.principal_key_rotated();
      absl::StatusOr<const Principal*> p = existing(kr.principal_id());
      if (!p.ok()) return p.status();
      if (kr.new_public_key().size() != crypto::kPublicKeySize) {
        return absl::InvalidArgumentError("principal_key_rotated: new_public_key must be 32 bytes");
      }
      for (const auto& [id, q] : principals_) {
        if (q.public_key == kr.new_public_key()) {
          return absl::FailedPreconditionError(
              absl::StrCat("new key of ", kr.principal_id(), " is already registered to ", id));
        }
      }
      return absl::OkStatus();
    }
    case v1::Event::kPrincipalRevoked: {
      const v1::PrincipalRevoked& r = event.principal_revoked();
      absl::StatusOr<const Principal*> p = existing(r.principal_id());
      if (!p.ok()) return p.status();
      if ((*p)->role == v1::ROLE_SPONSOR_ADMIN && active_admins() == 1) {
        return absl::FailedPreconditionError("cannot revoke the last active sponsor admin");
      }
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

void PrincipalRegistry::Apply(const ParsedEntry& entry) {
  const uint64_t index = entry.entry.index();
  const v1::Event& event = entry.envelope.event();
  auto add = [&](const v1::PrincipalRegistered& p) {
    Principal& q = principals_[p.principal_id()];
    q.principal_id = p.principal_id();
    q.printed_name = p.printed_name();
    q.role = p.role();
    q.site_id = p.site_id();
    q.public_key = p.public_key();
    q.registered_at = index;
    q.changed_at = index;
  };
  switch (event.kind_case()) {
    case v1::Event::kGenesis:
      origin_ = event.genesis().ledger_origin();
      add(event.genesis().first_admin());
      break;
    case v1::Event::kPrincipalRegistered:
      add(event.principal_registered());
      break;
    case v1::Event::kPrincipalRoleChanged: {
      Principal& p = principals_[event.principal_role_changed().principal_id()];
      p.role = event.principal_role_changed().new_role();
      p.site_id = event.principal_role_changed().new_site_id();
      p.changed_at = index;
      break;
    }
    case v1::Event::kPrincipalKeyRotated: {
      Principal& p = principals_[event.principal_key_rotated().principal_id()];
      p.public_key = event.principal_key_rotated().new_public_key();
      p.changed_at = index;
      break;
    }
    case v1::Event::kPrincipalRevoked: {
      Principal& p = principals_[event.principal_revoked().principal_id()];
      p.revoked = true;
      p.changed_at = index;
      break;
    }
    default:
      break;
  }
}

std::string PrincipalRegistry::SaveState() const {
  v1::RegistryState state;
  state.set_format(1);
  state.set_origin(origin_);
  for (const auto& [id, p] : principals_) {  // std::map: ascending ids
    v1::RegistryState::Principal* q = state.add_principals();
    q->set_principal_id(p.principal_id);
    q->set_printed_name(p.printed_name);
    q->set_role(p.role);
    q->set_site_id(p.site_id);
    q->set_public_key(p.public_key);
    q->set_revoked(p.revoked);
    q->set_registered_at(p.registered_at);
    q->set_changed_at(p.changed_at);
  }
  // No map fields: the encoding is deterministic.
  return state.SerializeAsString();
}

absl::Status PrincipalRegistry::RestoreState(absl::string_view bytes) {
  v1::RegistryState state;
  if (!state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("registry state: bytes do not parse as RegistryState");
  }
  if (state.format() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry state: unknown format ", state.format(), " (this build reads 1)"));
  }
  std::map<std::string, Principal> principals;
  const std::string* previous = nullptr;
  for (const v1::RegistryState::Principal& q : state.principals()) {
    if (q.principal_id().empty()) {
      return absl::InvalidArgumentError("registry state: a principal has an empty id");
    }
    if (previous != nullptr && !(*previous < q.principal_id())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "registry state: principal ", q.principal_id(), " is out of order or repeated"));
    }
    previous = &q.principal_id();
    if (q.role() == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(q.role())) {
      return absl::InvalidArgumentError(
          absl::StrCat("registry state: principal ", q.principal_id(), " has no valid role"));
    }
    if (q.public_key().size() != crypto::kPublicKeySize) {
      return absl::InvalidArgumentError(absl::StrCat("registry state: principal ", q.principal_id(),
                                                     " has a ", q.public_key().size(),
                                                     "-byte key, want 32"));
    }
    Principal& p = principals[q.principal_id()];
    p.principal_id = q.principal_id();
    p.printed_name = q.printed_name();
    p.role = q.role();
    p.site_id = q.site_id();
    p.public_key = q.public_key();
    p.revoked = q.revoked();
    p.registered_at = q.registered_at();
    p.changed_at = q.changed_at();
  }
  principals_ = std::move(principals);
  origin_ = state.origin();
  return absl::OkStatus();
}

}  // namespace trialog::ledger
