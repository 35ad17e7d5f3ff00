// The sandbox's io threads are catch-and-log boundaries.
#include "sandbox/server.h"

#include <gtest/gtest.h>

#include <future>
#include <stdexcept>

#include <boost/asio/post.hpp>

namespace mpc::sandbox {
namespace {

TEST(SandboxServer, an_io_thread_survives_a_handler_that_throws) {
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::promise<void> later_ran;
  boost::asio::post(ioc, [] { throw std::runtime_error("boom"); });
  boost::asio::post(ioc, [] { throw 42; });  // not even a std::exception
  boost::asio::post(ioc, [&] { later_ran.set_value(); });
  std::thread t([&] { run_io_thread(ioc); });
  auto ran = later_ran.get_future();
  EXPECT_EQ(ran.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  work.reset();
  ioc.stop();
  t.join();  // returns once the context stops
}

}  // namespace
}  // namespace mpc::sandbox
