// Bazel-only check that the generated code of @trialog//:trialog_grpc_proto compiles, links
// against Debian's gRPC/protobuf/abseil as declared in @trialog_system, and works: a real
// in-process gRPC server and the generated stub exchange one implemented and one unimplemented
// call. Nothing in CMake links trialog_grpc_proto into a test yet; this catches a missing -l.

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "trialog/v1/service.grpc.pb.h"

namespace {

using trialog::v1::GetCheckpointRequest;
using trialog::v1::GetCheckpointResponse;
using trialog::v1::LedgerService;

// Answers GetCheckpoint with the tree size equal to the trial id's length; everything else
// stays unimplemented.
class FakeLedger final : public LedgerService::Service {
 public:
  grpc::Status GetCheckpoint(grpc::ServerContext* /*context*/, const GetCheckpointRequest* request,
                             GetCheckpointResponse* response) override {
    if (request->trial_id().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "trial_id is empty");
    }
    response->set_tree_size(request->trial_id().size());
    response->set_checkpoint("origin " + request->trial_id() + "\n");
    return grpc::Status::OK;
  }
};

class GrpcStubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = LedgerService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  FakeLedger service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<LedgerService::Stub> stub_;
};

TEST_F(GrpcStubTest, ImplementedCallRoundTrips) {
  grpc::ClientContext context;
  GetCheckpointRequest request;
  request.set_trial_id("imt-crizotinib");
  GetCheckpointResponse response;
  grpc::Status status = stub_->GetCheckpoint(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.tree_size(), 14u);
  EXPECT_EQ(response.checkpoint(), "origin imt-crizotinib\n");
}

TEST_F(GrpcStubTest, ServerErrorReachesClient) {
  grpc::ClientContext context;
  GetCheckpointResponse response;
  grpc::Status status = stub_->GetCheckpoint(&context, GetCheckpointRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "trial_id is empty");
}

TEST_F(GrpcStubTest, UnimplementedMethod) {
  grpc::ClientContext context;
  trialog::v1::ListTrialsResponse response;
  grpc::Status status = stub_->ListTrials(&context, trialog::v1::ListTrialsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
