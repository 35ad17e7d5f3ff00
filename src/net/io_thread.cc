#include "net/io_thread.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace mpc::net {

void run_io_context(boost::asio::io_context& ioc, const char* who) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("{}: a handler threw: {}; it keeps running", who, e.what());
    } catch (...) {
      spdlog::error("{}: a handler threw a non-standard exception; it keeps running", who);
    }
  }
}

}  // namespace mpc::net
