#include "core/ledger/envelope_signer.h"

#include "core/ledger/entry.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace trialog::ledger {

std::string NewEventId() {
  std::string id = crypto::RandomBytes(kEventIdSize);
  id[6] = static_cast<char>((id[6] & 0x0f) | 0x40);  // version 4
  id[8] = static_cast<char>((id[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return id;
}

v1::SignedEnvelope SignEnvelope(const v1::Envelope& envelope, const crypto::SigningKey& key) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    envelope.SerializeToCodedStream(&coded);
  }
  v1::SignedEnvelope signed_envelope;
  signed_envelope.set_signature(key.Sign(EnvelopeSigningMessage(bytes)));
  signed_envelope.set_envelope(std::move(bytes));
  return signed_envelope;
}

}  // namespace trialog::ledger
