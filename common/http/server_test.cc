// HTTP server behaviour over real loopback sockets: keep-alive and pipelining, gzip, limits,
// 400/404/405 with reasons, asynchronous responses.

#include "common/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "common/http/client.h"
#include "common/zlib/gzip.h"

namespace common::http {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Server::Options o;
    o.max_header_bytes = 4096;
    o.max_body_bytes = 1000;
    o.idle_timeout_ms = 300;
    o.gzip_min_bytes = 16;
    server_ = std::make_unique<Server>(loop_, o, log::Logger("test"));
    server_->Handle("/hello", {"GET"}, [](Request& r, Respond respond) {
      respond(Response::Text(200, "hello " + r.query));
    });
    server_->Handle("/big", {"GET"}, [](Request&, Respond respond) {
      respond(Response::Text(200, std::string(5000, 'x')));
    });
    server_->Handle("/echo", {"POST"}, [](Request& r, Respond respond) {
      respond(Response::Text(200, "got " + std::to_string(r.body.size())));
    });
    server_->Handle("/async", {"GET"}, [this](Request&, Respond respond) {
      loop_.QueueWork([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); },
                      [respond] { respond(Response::Text(200, "later")); });
    });
    ASSERT_TRUE(server_->Listen("127.0.0.1:0").ok());
    port_ = server_->port();
    thread_ = std::thread([this] { loop_.Run(); });
  }
  void TearDown() override {
    loop_.Post([this] {
      server_->Close();
      loop_.Stop();
    });
    thread_.join();
  }
  // Sends raw bytes and reads until the peer closes or `want` responses arrived (by counting
  // "HTTP/1.1 " prefixes).
  std::string Exchange(const std::string& raw, int want = 1) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    struct timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    EXPECT_EQ(write(fd, raw.data(), raw.size()), static_cast<ssize_t>(raw.size()));
    std::string out;
    char buf[8192];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      int count = 0;
      for (size_t p = 0; (p = out.find("HTTP/1.1 ", p)) != std::string::npos; ++p) ++count;
      size_t last = out.rfind("HTTP/1.1 ");
      size_t cl = out.find("Content-Length: ", last);
      size_t end = out.find("\r\n\r\n", last);
      if (count >= want && cl != std::string::npos && end != std::string::npos &&
          out.size() >= end + 4 + std::stoul(out.substr(cl + 16))) {
        break;
      }
    }
    close(fd);
    return out;
  }

  event::Loop loop_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(ServerTest, KeepAliveAndPipelining) {
  std::string out = Exchange(
      "GET /hello?a HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?b HTTP/1.1\r\nHost: x\r\n\r\n", 2);
  size_t first = out.find("hello a");
  size_t second = out.find("hello b");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_LT(first, second);
}

TEST_F(ServerTest, ErrorsCarryReasons) {
  EXPECT_NE(Exchange("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").find("404 Not Found"),
            std::string::npos);
  std::string r405 = Exchange("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(r405.find("405 Method Not Allowed"), std::string::npos);
  EXPECT_NE(r405.find("Allow: GET"), std::string::npos);
  std::string r400 = Exchange("GARBAGE\r\n\r\n");
  EXPECT_NE(r400.find("400 Bad Request"), std::string::npos);
  EXPECT_NE(r400.find("malformed HTTP request"), std::string::npos);
  std::string r413 = Exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_NE(r413.find("413"), std::string::npos);
  std::string r431 = Exchange("GET /hello HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n");
  EXPECT_NE(r431.find("431"), std::string::npos);
  // The server still serves after all that.
  EXPECT_NE(Exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, GzipWhenAsked) {
  std::string plain = Exchange("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(plain.find("Content-Encoding: gzip"), std::string::npos);
  std::string gz = Exchange("GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
  ASSERT_NE(gz.find("Content-Encoding: gzip"), std::string::npos);
  std::string body = gz.substr(gz.find("\r\n\r\n") + 4);
  std::string unzipped;
  ASSERT_TRUE(zlib::Gunzip(body, unzipped, 1 << 20).ok());
  EXPECT_EQ(unzipped, std::string(5000, 'x') + "\n");
}

TEST_F(ServerTest, AsyncResponseAndBody) {
  EXPECT_NE(Exchange("GET /async HTTP/1.1\r\nHost: x\r\n\r\n").find("later"), std::string::npos);
  EXPECT_NE(Exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
                .find("got 3"),
            std::string::npos);
}

TEST_F(ServerTest, IdleConnectionsAreClosed) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port_));
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  struct timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  EXPECT_EQ(read(fd, &c, 1), 0);  // EOF from the idle timeout (300 ms), before our 3 s bound
  close(fd);
}

// The client against the server, both on the test's loop thread.
TEST_F(ServerTest, ClientRequestsReuseConnectionsAndEnforceLimits) {
  struct Out {
    std::vector<std::string> results;
    int done = 0;
  };
  auto out = std::make_shared<Out>();
  std::atomic<bool> finished{false};
  Client* client = nullptr;
  auto run = [&](ClientRequest r) {
    client->Do(std::move(r), [out, &finished](Result<ClientResponse> res) {
      if (res.ok()) {
        out->results.push_back(std::to_string(res->status) + " " + res->body);
      } else {
        out->results.push_back(res.status().ToString());
      }
      if (++out->done == 6) finished = true;
    });
  };
  loop_.Post([&] {
    client = new Client(loop_);
    ClientRequest r;
    r.host = "127.0.0.1";
    r.port = port_;
    r.target = "/hello?x";
    run(r);
    r.target = "/big";  // gzip-encoded by the server, decoded by the client
    run(r);
    r.max_body_bytes = 100;
    run(r);
    ClientRequest slow = r;
    slow.target = "/async";
    slow.timeout_ms = 5;
    slow.max_body_bytes = 0;
    run(slow);
    ClientRequest refused;
    refused.host = "127.0.0.1";
    refused.port = 1;
    run(refused);
    ClientRequest nf = r;
    nf.target = "/nope";
    nf.max_body_bytes = 0;
    run(nf);
  });
  for (int i = 0; i < 200 && !finished; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(finished);
  std::promise<void> closed;
  loop_.Post([&] {
    delete client;
    closed.set_value();
  });
  closed.get_future().wait();
  auto has = [&](const std::string& prefix) {
    for (const auto& r : out->results) {
      if (r.rfind(prefix, 0) == 0) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("200 hello x")) << ::testing::PrintToString(out->results);
  EXPECT_TRUE(has("200 " + std::string(5000, 'x')));
  EXPECT_TRUE(has("resource exhausted"));
  EXPECT_TRUE(has("deadline exceeded"));
  EXPECT_TRUE(has("unavailable"));
  EXPECT_TRUE(has("404 "));
}

}  // namespace
}  // namespace common::http
