#include "witness/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace trialog::witness {
namespace {

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// libcurl progress callback: a non-zero answer aborts the transfer.
int Progress(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(cancelled)->load() ? 1 : 0;
}

bool GlobalInit() {
  static bool ok = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WitnessClient>> WitnessClient::Create(std::string submission_prefix,
                                                                     absl::Duration timeout) {
  if (!absl::StartsWith(submission_prefix, "http://") &&
      !absl::StartsWith(submission_prefix, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "witness URL ", submission_prefix, " must start with http:// or https://"));
  }
  while (absl::EndsWith(submission_prefix, "/")) submission_prefix.pop_back();
  if (!GlobalInit()) return absl::InternalError("curl_global_init failed");
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  return std::unique_ptr<WitnessClient>(
      new WitnessClient(std::move(submission_prefix), timeout, curl));
}

WitnessClient::~WitnessClient() {
  absl::MutexLock lock(&mu_);
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

absl::StatusOr<WitnessClient::RawReply> WitnessClient::PostRaw(const std::string& path,
                                                               const std::string& body) {
  if (cancelled_.load()) return absl::CancelledError("witness client cancelled");
  absl::MutexLock lock(&mu_);
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache
  const std::string url = prefix_ + path;
  RawReply reply;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: text/plain; charset=utf-8");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout_)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(3000, absl::ToInt64Milliseconds(timeout_))));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled_);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "trialog-witness-client/1");
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return absl::CancelledError(absl::StrCat("request to witness ", url, " cancelled"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("cannot reach witness ", url, ": ",
                                               error[0] != 0 ? error : curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  char* type = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != nullptr) {
    reply.content_type = type;
  }
  return reply;
}

absl::StatusOr<std::vector<std::string>> WitnessClient::AddCheckpoint(
    const AddCheckpointRequest& request) {
  absl::StatusOr<RawReply> reply = PostRaw(kAddCheckpointPath, FormatAddCheckpointRequest(request));
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    absl::Status status = StatusFromHttp(static_cast<int>(reply->status), reply->body);
    if (reply->status == 409 && reply->content_type != kSizeContentType) {
      return absl::InvalidArgumentError(absl::StrCat(
          "witness ", prefix_, " answered 409 with Content-Type ", reply->content_type,
          ", not ", kSizeContentType));
    }
    return status;
  }
  absl::StatusOr<std::vector<std::string>> lines = SplitSignatureLines(reply->body);
  if (!lines.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("witness ", prefix_, " answered 200 with a bad body: ", lines.status().message()));
  }
  return lines;
}

}  // namespace trialog::witness
