// The entry point of every thread that runs an io_context: a catch-and-log
// boundary. A handler that throws unwinds out of io_context::run(); it is
// logged and the loop runs again, instead of std::terminate ending the
// process. Returns when the io_context stops.
#pragma once

#include <boost/asio/io_context.hpp>

namespace mpc::net {

void run_io_context(boost::asio::io_context& ioc, const char* who);

}  // namespace mpc::net
