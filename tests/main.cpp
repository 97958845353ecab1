// The Boost.Test entry point shared by every suite.
#define BOOST_TEST_MODULE tapeloop
#include <boost/test/unit_test.hpp>
