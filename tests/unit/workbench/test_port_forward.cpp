// wb port-forward's pure parts: [LOCAL:]REMOTE specs and the URLs printed.
#include <catch2/catch.hpp>

#include "workbench/app/port_forward.hpp"

using namespace wb::workbench;
using wb::util::ErrorCode;

TEST_CASE("port specs are [LOCAL:]REMOTE") {
  CHECK(parse_forward_spec("8080").value() == ForwardSpec{8080, 8080});
  CHECK(parse_forward_spec("9000:8080").value() == ForwardSpec{9000, 8080});
  CHECK(parse_forward_spec("0:8080").value() == ForwardSpec{0, 8080});
  CHECK(parse_forward_spec("65535:1").value() == ForwardSpec{65535, 1});
  for (const char* bad :
       {"", "0", "http", "8080:", ":8080", "70000", "8080:70000", "-1:80", "1:2:3", " 80", "+80", "80.5", "65536:80"}) {
    INFO(bad);
    auto r = parse_forward_spec(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::Usage);
    CHECK(r.error().message == "'" + std::string(bad) + "' is not a port to forward");
  }
}

TEST_CASE("forwarded URLs put IPv6 addresses in brackets") {
  CHECK(Forwarding{"127.0.0.1", 8080, 80}.url() == "http://127.0.0.1:8080");
  CHECK(Forwarding{"::1", 9000, 8080}.url() == "http://[::1]:9000");
}
