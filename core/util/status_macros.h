// Error-propagation macros for absl::Status / absl::StatusOr.
// Debian 12's abseil (20220623) predates absl/status/status_macros.h.

#ifndef TRIALOG_CORE_UTIL_STATUS_MACROS_H_
#define TRIALOG_CORE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the current function if `expr` (an absl::Status) is not OK.
#define TRIALOG_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status trialog_status_ = (expr);           \
    if (!trialog_status_.ok()) return trialog_status_; \
  } while (0)

#define TRIALOG_CONCAT_INNER_(a, b) a##b
#define TRIALOG_CONCAT_(a, b) TRIALOG_CONCAT_INNER_(a, b)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its status.
#define TRIALOG_ASSIGN_OR_RETURN(lhs, rexpr) \
  TRIALOG_ASSIGN_OR_RETURN_IMPL_(TRIALOG_CONCAT_(trialog_statusor_, __LINE__), lhs, rexpr)

#define TRIALOG_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = *std::move(statusor)

#endif  // TRIALOG_CORE_UTIL_STATUS_MACROS_H_
