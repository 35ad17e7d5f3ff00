// What every binary's main() shares: the --version flag.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace mpc::apps {

// "NAME VERSION", as clap prints it (the project version from CMake).
inline std::string version_line(const std::string& name) { return name + " " + MPC_VERSION; }

inline void add_version_flag(CLI::App& app, const std::string& name) {
  app.set_version_flag("--version", version_line(name), "Print the version and exit");
}

}  // namespace mpc::apps
