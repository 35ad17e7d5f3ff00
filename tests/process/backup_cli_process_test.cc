// Filled in by the process/e2e suites.
#include <gtest/gtest.h>
