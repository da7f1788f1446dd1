#include "storage/rocks_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "rocksdb/status.h"

namespace trialog::storage {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) return absl::OkStatus();
  const std::string text = s.ToString();
  const std::string message = absl::StrCat(context, ": ", text);
  using C = rocksdb::Status::Code;
  switch (s.code()) {
    case C::kNotFound:
      return absl::NotFoundError(message);
    case C::kCorruption:
      return absl::DataLossError(message);
    case C::kNotSupported:
      return absl::UnimplementedError(message);
    case C::kInvalidArgument:
      return absl::InvalidArgumentError(message);
    case C::kIOError:
      if (s.subcode() == rocksdb::Status::SubCode::kNoSpace ||
          s.subcode() == rocksdb::Status::SubCode::kSpaceLimit) {
        return absl::ResourceExhaustedError(message);
      }
      return absl::UnavailableError(message);
    case C::kTimedOut:
      return absl::DeadlineExceededError(message);
    case C::kAborted:
      return absl::AbortedError(message);
    case C::kBusy:
    case C::kTryAgain:
    case C::kExpired:
    case C::kShutdownInProgress:
    case C::kIncomplete:
      return absl::UnavailableError(message);
    case C::kCompactionTooLarge:
      return absl::ResourceExhaustedError(message);
    case C::kColumnFamilyDropped:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace trialog::storage
